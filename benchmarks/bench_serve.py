"""Serving benchmark: ``mlops serve`` against a naive server, KServe, a no-op endpoint and the raw forward pass.

    pip install -e '.[bench]'                             # FastAPI and KServe, for (b) and (e) only
    .venv/bin/python benchmarks/bench_serve.py            # full run, about 6 minutes
    .venv/bin/python benchmarks/bench_serve.py --quick    # shorter levels, about 2 minutes

One run, side by side, with the example digits CNN (``models/digits-cnn/model.py``, exported exactly as
``mlops train`` exports it: ``mlops.train.export``; seeded weights, so no training time is spent):

  (a) ``mlops serve`` (image mode, the digits spec's serving config, prediction log on);
  (b) a naive FastAPI + uvicorn server: pydantic request model, one forward per request (sync endpoint);
  (e) KServe's Python ``ModelServer`` (OIP v2 REST, gRPC off, its defaults otherwise) serving the same
      ``program.pt2`` as a ``kserve.Model``: loaded in ``load()``, one forward per request under
      ``torch.inference_mode()``; (e') the same with KServe's per-request log lines off (latency, timing,
      access). KServe's batching is its Go agent sidecar in a cluster (``spec.predictor.batcher``), not part
      of the Python server, so there is none here;
  (c) a no-op endpoint on the same HTTP stack as (a) (raw ASGI on uvicorn + httptools + uvloop), and
  (c') the whole ``mlops serve`` app with a predictor that does no work (protocol, batching, metrics);
  (d) the raw forward pass at the effective batch size (a) reached at the highest concurrency.

Before timing, (b) and (e) must give the same outputs as (a) for the same requests. Every server uses
the torch thread settings of ``mlops serve`` (``mlops.serve.cpu.configure_torch_threads``).

The load generator is closed-loop (each of C connections sends its next request when the previous answer
arrives), HTTP/1.1 keep-alive on 127.0.0.1, written on asyncio + uvloop with a minimal response parser.
Servers run on CPU 0, the load generator on CPU 1 (``sched_setaffinity``), so neither steals the other's
core. Also measured for (a): p99 at half of the maximum throughput (open loop), 2× overload (open loop,
admitted p99 and 429s), and SIGTERM under load (every admitted request answered, exit 0).

(b) and (e) need the ``bench`` extra (``pip install -e '.[bench]'``: FastAPI, opentelemetry-api, KServe); it
is not a dependency of the package. Every server process this script starts is stopped (SIGTERM, then
SIGKILL) when the run ends, fails or is interrupted (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parent.parent
MODEL = "digits-cnn"
PATH = f"/v2/models/{MODEL}/infer"
SERVER_CPU, CLIENT_CPU = 0, 1
LEVELS = (1, 2, 4, 8, 16, 32, 64)
MLOPS, NAIVE, NOOP, NULL = "(a) mlops", "(b) fastapi", "(c) no-op", "(c') null model"
KSERVE, KSERVE_QUIET = "(e) kserve", "(e') kserve quiet"
# What (b) and (e) import, by part; all from the bench extra.
EXTRA = {"b": ("fastapi", "opentelemetry.trace"), "e": ("fastapi", "opentelemetry.trace", "kserve")}


# --- the artifact ------------------------------------------------------------------------------------------

def build_artifact(work: Path) -> tuple[Path, Path, Path]:
    """The digits CNN exported as ``mlops train`` does, its version record, and its serving config."""
    import importlib.util
    from datetime import UTC, datetime

    import torch
    from sklearn.datasets import load_digits

    from mlops.adapters.artifacts.signature import Signature
    from mlops.core.lineage import hash_artifact, version_id
    from mlops.core.repo import load_repository
    from mlops.core.spec.runtime import runtime_config
    from mlops.train.export import InferenceModule, write_program
    from mlops.train.record import finalize

    spec = load_repository(ROOT, only_models={MODEL}).model(MODEL)
    loader = importlib.util.spec_from_file_location("bench_digits_cnn", ROOT / "models" / MODEL / "model.py")
    assert loader is not None and loader.loader is not None
    user = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(user)
    torch.manual_seed(0)
    net = user.build(dict(spec.params), 64, 10)
    x = load_digits().data.astype(np.float32)
    artifact = work / "artifact"
    features = list(spec.data.features)
    write_program(artifact, InferenceModule(net, x.mean(0), x.std(0) + 1e-3).eval(),
                  Signature.build(MODEL, "classification", "input", features, list(range(10))))
    (artifact / "metrics.json").write_text('{"metrics": {}}\n', "utf-8")
    (artifact / "MODEL_CARD.md").write_text("# digits-cnn (benchmark build)\n", "utf-8")
    digest, files = hash_artifact(artifact)
    version = version_id(digest, datetime.now(UTC))
    data = {"path": spec.data.path, "md5": "0" * 32 + ".dir", "rows": {}}
    _, text = finalize({
        "model": MODEL, "version": version, "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "artifact": {"digest": digest, "uri": f"dvc://models/{MODEL}/versions/{version}", "files": files,
                     "format": "torch.export"},
        "data": data, "evaluation_data": data, "seed": 0, "metrics": {}, "duration_s": 0.0,
        "code": {"commit": "0" * 40, "model_py_sha256": "sha256:" + "0" * 64},
        "environment": {"python": sys.version.split()[0], "torch": torch.__version__, "mlops": "bench",
                        "device": "cpu", "cpu": "bench"}})
    (work / "record.yaml").write_text(text, "utf-8")
    cfg = runtime_config(spec, version, "local", digest)
    cfg["prediction_log"]["sink"] = str(work / "predictions")
    (work / "serving.json").write_text(json.dumps(cfg), "utf-8")
    return artifact, work / "record.yaml", work / "serving.json"


def request_bodies(n: int = 256) -> list[bytes]:
    from sklearn.datasets import load_digits

    rows = load_digits().data.astype(np.float32)[:n]
    return [json.dumps({"id": f"r{i}", "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64],
                                                    "data": row.tolist()}]}).encode() for i, row in enumerate(rows)]


# --- the load generator ------------------------------------------------------------------------------------

@dataclass
class Result:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: dict[int, list[float]] = field(default_factory=dict)
    elapsed: float = 0.0
    unanswered: int = 0  # the connection closed with a request outstanding
    refused: int = 0  # could not connect
    retry_after: int = 0  # 429/503 answers that carried Retry-After
    skipped: int = 0  # open loop: no connection free and the cap reached
    cpu_us: float = 0.0  # server CPU time per answered request
    total: int = 0  # answers, warm-up included

    def add(self, status: int, latency: float, retry_after: bool) -> None:
        self.statuses[status] += 1
        self.latencies.setdefault(status, []).append(latency)
        self.retry_after += retry_after

    def ok(self) -> int:
        return self.statuses.get(200, 0)

    def rps(self) -> float:
        return self.ok() / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float, status: int = 200) -> float:
        lat = self.latencies.get(status)
        return float(np.percentile(lat, q)) * 1000 if lat else float("nan")


_HEAD_END = b"\r\n\r\n"
_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.I)


class _Conn(asyncio.Protocol):
    def __init__(self, on_answer: Callable[[_Conn, int, float, bool], None],
                 on_closed: Callable[[_Conn, bool], None]) -> None:
        self.on_answer, self.on_closed = on_answer, on_closed
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.sent_at = 0.0
        self.busy = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.ready.set_result(None)

    def send(self, request: bytes) -> None:
        assert self.transport is not None
        self.busy = True
        self.sent_at = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(_HEAD_END)
            if end < 0:
                return
            head = bytes(self.buf[:end + 2])
            match = _LENGTH.search(head)
            total = end + 4 + (int(match.group(1)) if match else 0)
            if len(self.buf) < total:
                return
            del self.buf[:total]
            lower = head.lower()
            self.busy = False
            self.on_answer(self, int(head[9:12]), time.perf_counter() - self.sent_at, b"\r\nretry-after:" in lower)
            if b"\r\nconnection: close" in lower and self.transport is not None:
                self.transport.close()
                return

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_closed(self, self.busy)


def _requests(bodies: list[bytes], path: str) -> list[bytes]:
    return [(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             f"Content-Length: {len(b)}\r\n\r\n").encode() + b for b in bodies]


async def closed_loop(port: int, bodies: list[bytes], concurrency: int, duration: float, warmup: float = 0.5,
                      path: str = PATH, on_start: Callable[[], None] | None = None) -> Result:
    """C connections, each sending its next request when the previous answer arrives."""
    loop = asyncio.get_running_loop()
    reqs = _requests(bodies, path)
    res = Result()
    state = {"i": 0, "open": 0}
    tasks: set[asyncio.Task[None]] = set()
    t0 = time.perf_counter()
    measure_from, stop_at = t0 + warmup, t0 + warmup + duration
    done = loop.create_future()

    def next_request() -> bytes:
        state["i"] += 1
        return reqs[state["i"] % len(reqs)]

    def on_answer(conn: _Conn, status: int, latency: float, retry: bool) -> None:
        now = time.perf_counter()
        res.total += 1
        if conn.sent_at >= measure_from:
            res.add(status, latency, retry)
        if now < stop_at and not conn.transport.is_closing():  # type: ignore[union-attr]
            conn.send(next_request())
        elif conn.transport is not None:
            conn.transport.close()

    def on_closed(conn: _Conn, outstanding: bool) -> None:
        res.unanswered += outstanding
        state["open"] -= 1
        if time.perf_counter() < stop_at:
            task = loop.create_task(connect())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        elif state["open"] == 0 and not done.done():
            done.set_result(None)

    async def connect() -> None:
        try:
            _, conn = await loop.create_connection(lambda: _Conn(on_answer, on_closed), "127.0.0.1", port)
        except OSError:
            res.refused += 1
            if state["open"] == 0 and not done.done():
                done.set_result(None)
            return
        state["open"] += 1
        conn.send(next_request())

    await asyncio.gather(*(connect() for _ in range(concurrency)))
    if on_start is not None:
        loop.call_later(warmup, on_start)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done, stop_at - time.perf_counter() + 30)
    res.elapsed = min(time.perf_counter(), stop_at) - measure_from
    return res


async def open_loop(port: int, bodies: list[bytes], rate: float, duration: float, pool: int = 512,
                    path: str = PATH, warmup: float = 0.5) -> Result:
    """Requests at a fixed rate whatever the answers (1 ms ticks) over a pool of keep-alive connections opened
    beforehand; a request due while every connection is busy is counted as ``skipped`` (not sent). Answers to
    requests sent in the first ``warmup`` seconds are not counted."""
    loop = asyncio.get_running_loop()
    reqs = _requests(bodies, path)
    res = Result()
    idle: deque[_Conn] = deque()
    state = {"outstanding": 0}

    def on_answer(conn: _Conn, status: int, latency: float, retry: bool) -> None:
        if conn.sent_at >= t0 + warmup:
            res.add(status, latency, retry)
        state["outstanding"] -= 1
        if not conn.transport.is_closing():  # type: ignore[union-attr]
            idle.append(conn)

    def on_closed(conn: _Conn, outstanding: bool) -> None:
        res.unanswered += outstanding
        state["outstanding"] -= outstanding

    for _ in range(pool):
        _, conn = await loop.create_connection(lambda: _Conn(on_answer, on_closed), "127.0.0.1", port)
        idle.append(conn)
    t0 = time.perf_counter()
    sent = 0
    while (now := time.perf_counter()) < t0 + warmup + duration:
        for _ in range(int(rate * (now - t0)) - sent):
            sent += 1
            if idle:
                state["outstanding"] += 1
                idle.popleft().send(reqs[sent % len(reqs)])
            elif now >= t0 + warmup:
                res.skipped += 1
        await asyncio.sleep(0.001)
    deadline = time.perf_counter() + 10
    while state["outstanding"] > 0 and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    res.elapsed = duration
    for conn in idle:
        if conn.transport is not None:
            conn.transport.close()
    await asyncio.sleep(0.05)
    return res


def drive(coro: Any) -> Any:
    import uvloop

    return uvloop.run(coro)


# --- the servers (each runs as `bench_serve.py server KIND`, pinned to SERVER_CPU) ----------------------------

NOOP_BODY = json.dumps({"model_name": MODEL, "model_version": "noop", "id": "r0", "outputs": [
    {"name": "output", "datatype": "FP32", "shape": [1, 10], "data": [0.0] * 10}]}).encode()


async def noop_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """(c): read the request, answer a fixed inference response. Nothing else."""
    if scope["type"] != "http":
        return
    message = await receive()
    while message.get("more_body"):
        message = await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(NOOP_BODY)).encode())]})
    await send({"type": "http.response.body", "body": NOOP_BODY})


class Tensor(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[float]


class InferRequest(BaseModel):
    id: str | None = None
    inputs: list[Tensor]


def naive_app(artifact: Path, record_file: Path) -> Any:
    """(b): what a first FastAPI version looks like: validate with pydantic, one forward per request."""
    from fastapi import FastAPI

    from mlops.adapters.artifacts.loader import load_verified
    from mlops.core import yamlpos
    from mlops.core.spec.load import validate
    from mlops.core.spec.record import VersionRecord

    record = validate(yamlpos.load(record_file), VersionRecord)
    predictor = load_verified(artifact, record)
    app = FastAPI()

    @app.post("/v2/models/{name}/infer")
    def infer(name: str, req: InferRequest) -> dict[str, Any]:
        tensor = req.inputs[0]
        y = predictor.predict(np.asarray(tensor.data, dtype=np.float32).reshape(tensor.shape))
        return {"model_name": name, "id": req.id, "outputs": [
            {"name": "output", "datatype": "FP32", "shape": list(y.shape), "data": y.ravel().tolist()}]}

    @app.get("/v2/health/ready")
    def ready() -> dict[str, bool]:
        return {"ready": True}

    return app


def null_runtime(artifact: Path, port: int) -> Any:
    """(c'): the mlops serve app, batcher and metrics around a predictor that returns zeros."""
    from mlops.adapters.artifacts.signature import SIGNATURE, Signature
    from mlops.serve.app import App
    from mlops.serve.metrics import Metrics
    from mlops.serve.server import Limits, Runtime, bind

    sig = Signature.read(artifact / SIGNATURE)

    class Null:
        signature = sig

        def predict(self, x: np.ndarray) -> np.ndarray:
            return np.zeros((len(x), 10), np.float32)

    metrics = Metrics(MODEL, "null", "sha256:" + "0" * 64, 32)
    return Runtime(lambda: Null(), App(MODEL, "null", metrics), metrics, None, Limits(), bind("127.0.0.1", port))


def kserve_server(artifact: Path, port: int, quiet: bool = False) -> int:
    """(e): what a KServe user writes: a ``kserve.Model`` that loads the exported program in ``load()`` and runs
    one forward per request under ``torch.inference_mode()``, on KServe's ``ModelServer`` (OIP v2 REST, gRPC off,
    its other settings left at their defaults: uvloop, one worker, per-request latency, timing and access log
    lines on). (e') ``quiet``: those three per-request log lines off, as a user tuning for throughput would."""
    sys.argv = sys.argv[:1]  # kserve.model_server parses the command line when it is imported
    if quiet:
        os.environ["KSERVE_LOGLEVEL"] = "WARNING"  # read when kserve is imported: its trace (timing) lines
    import logging

    import torch
    from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer  # noqa: F401 (annotations)

    class DigitsCNN(Model):
        def __init__(self, name: str, program: Path) -> None:
            super().__init__(name)
            self.program = program
            self.module: Any = None
            self.load()

        def load(self) -> bool:
            self.module = torch.export.load(str(self.program)).module()
            self.ready = True
            return self.ready

        def predict(self, payload: InferRequest, headers: dict[str, str] | None = None) -> InferResponse:
            x = payload.inputs[0].as_numpy()
            with torch.inference_mode():
                y = self.module(torch.from_numpy(x)).numpy()
            return InferResponse(response_id=payload.id, model_name=self.name, infer_outputs=[
                InferOutput(name="output", shape=list(y.shape), datatype="FP32", data=y)])

    server = ModelServer(http_port=port, enable_grpc=False, enable_latency_logging=not quiet)
    if quiet:  # after ModelServer(), which configures logging
        logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    server.start([DigitsCNN(MODEL, artifact / "program.pt2")])
    return 0


def run_server(kind: str, port: int, artifact: Path, record: Path) -> int:
    import uvicorn

    from mlops.serve.cpu import configure_torch_threads

    configure_torch_threads()
    if kind == "noop":
        uvicorn.run(noop_app, host="127.0.0.1", port=port, http="httptools", loop="uvloop", lifespan="off",
                    log_level="warning", access_log=False)
    elif kind == "naive":
        uvicorn.run(naive_app(artifact, record), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    elif kind == "null":
        from mlops.serve.server import run

        return run(null_runtime(artifact, port))
    elif kind in ("kserve", "kserve-quiet"):
        return kserve_server(artifact, port, quiet=kind == "kserve-quiet")
    else:
        raise SystemExit(f"unknown server kind {kind!r}")
    return 0


def forward_rate(artifact: Path, record_file: Path, sizes: list[int], seconds: float = 1.5) -> dict[int, float]:
    """(d): samples/s of ``Predictor.predict`` alone, one thread per the CPU it is pinned to."""
    from mlops.adapters.artifacts.loader import load_verified
    from mlops.core import yamlpos
    from mlops.core.spec.load import validate
    from mlops.core.spec.record import VersionRecord
    from mlops.serve.cpu import configure_torch_threads

    configure_torch_threads()
    predictor = load_verified(artifact, validate(yamlpos.load(record_file), VersionRecord))
    out = {}
    rng = np.random.default_rng(0)
    for bs in sizes:
        x = rng.standard_normal((bs, 64), dtype=np.float32)
        for _ in range(20):
            predictor.predict(x)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            predictor.predict(x)
            n += 1
        out[bs] = n * bs / (time.perf_counter() - t0)
    return out


# --- orchestration -------------------------------------------------------------------------------------------

def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


class BenchError(RuntimeError):
    """A failure of the run (a server that does not start, answers that differ): one line, no traceback."""


class Server:
    """A server process pinned to SERVER_CPU. Use :func:`start`, which registers :meth:`stop` on an ExitStack
    before waiting for readiness, so that no path (a failed start, an error, Ctrl-C) leaves it running."""

    def __init__(self, name: str, argv: list[str], port: int, log: Path) -> None:
        self.name, self.port, self.log_path = name, port, log
        self.code: int | None = None
        pin = ["taskset", "-c", str(SERVER_CPU)] if pinned() else []
        self.log = log.open("wb")
        try:
            self.proc = subprocess.Popen([*pin, *argv], stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        except BaseException:
            self.log.close()
            raise

    def wait_ready(self, path: str, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while get(self.port, path)[0] != 200:
            if self.proc.poll() is not None:
                lines = self.log_path.read_text("utf-8", "replace").strip().splitlines() or ["(empty log)"]
                why = [ln for ln in lines if re.search(r"ERROR|Error\b|Exception\b", ln)] or lines
                raise BenchError(f"{self.name} exited ({self.proc.returncode}) before it was ready; "
                                 f"{self.log_path}: {why[-1].strip()}")
            if time.time() > deadline:
                raise BenchError(f"{self.name} was not ready after {timeout:g} s; see {self.log_path}")
            time.sleep(0.1)

    def stop(self, grace: float = 30) -> int:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; the exit code. Safe to call more than once."""
        if self.code is None:
            try:
                if self.proc.poll() is None:
                    self.proc.send_signal(signal.SIGTERM)
                self.code = self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
            finally:
                if self.code is None:  # it outlived the grace period, or a second Ctrl-C cut the wait short
                    self.proc.kill()
                    self.code = self.proc.wait()
                self.log.close()
        return self.code


def start(stack: contextlib.ExitStack, name: str, argv: list[str], port: int, ready_path: str, log: Path) -> Server:
    """Start a server, register its stop on ``stack`` first, then wait until ``ready_path`` answers 200."""
    server = Server(name, argv, port, log)
    stack.callback(server.stop)
    server.wait_ready(ready_path)
    return server


_CPUS = os.sched_getaffinity(0)


def pinned() -> bool:
    """Two CPUs or more at start: servers on SERVER_CPU, this process (the load generator) on CLIENT_CPU."""
    return {SERVER_CPU, CLIENT_CPU} <= _CPUS


def batch_mean(port: int) -> tuple[float, float]:
    text = get(port, "/metrics")[1].decode()
    values = dict(re.findall(r"^(mlops_serve_batch_size_(?:sum|count)) (\S+)$", text, re.M))
    return float(values.get("mlops_serve_batch_size_sum", 0)), float(values.get("mlops_serve_batch_size_count", 0))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(server: Server, bodies: list[bytes], c: int, seconds: float) -> tuple[Result, float]:
    """One closed-loop run: the result (with the server's CPU time per answered request) and the mean batch."""
    before = batch_mean(server.port)
    cpu0 = cpu_seconds(server.proc.pid)
    res = drive(closed_loop(server.port, bodies, c, seconds, warmup=0.3))
    res.cpu_us = (cpu_seconds(server.proc.pid) - cpu0) / max(1, res.total) * 1e6
    after = batch_mean(server.port)
    return res, (after[0] - before[0]) / max(1.0, after[1] - before[1])


def interleaved(servers: dict[str, Server], bodies: list[bytes], levels: tuple[int, ...], seconds: float,
                rounds: int) -> tuple[dict[str, dict[int, Result]], dict[int, float]]:
    """Every server at every level, in turn, ``rounds`` times; the best run of each (server, level) is kept.

    Interleaving and best-of filter out other jobs on a shared machine, which only ever slow a run down."""
    table: dict[str, dict[int, Result]] = {name: {} for name in servers}
    batches: dict[int, float] = {}
    for _ in range(rounds):
        for c in levels:
            for name, server in servers.items():
                res, batch = measure(server, bodies, c, seconds)
                best = table[name].get(c)
                if best is None or res.rps() > best.rps():
                    table[name][c] = res
                    if name == MLOPS:
                        batches[c] = batch
    for name, rows in table.items():
        for c, res in sorted(rows.items()):
            extra = f"  batch {batches[c]:4.1f}" if name == MLOPS else ""
            bad = {k: v for k, v in res.statuses.items() if k != 200}
            print(f"  {name:<18} c={c:<3} {res.rps():>7.0f} req/s  p50 {res.pct(50):6.2f} ms  p99 "
                  f"{res.pct(99):6.2f} ms  {res.cpu_us:5.0f} µs CPU/req{extra}{'  other: ' + str(bad) if bad else ''}",
                  flush=True)
    return table, batches


def missing_extra(parts: str) -> list[str]:
    """The modules of the bench extra that the chosen parts need and that cannot be found."""
    import importlib.util

    wanted = sorted({m for key, modules in EXTRA.items() if key in parts for m in modules})
    missing = []
    for module in wanted:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # the parent package is missing
            found = False
        if not found:
            missing.append(module.split(".")[0])
    return missing


_TERMINATED: list[int] = []


def _terminated(signum: int, frame: Any) -> None:
    """SIGTERM: do what Ctrl-C does. An exception raised here would land in whichever event-loop callback was
    running and be swallowed there; the SIGINT handler (asyncio's Runner while the load generator runs) cancels
    the run cleanly and ends in KeyboardInterrupt, which unwinds through the ExitStack that stops the servers."""
    _TERMINATED.append(signum)
    signal.raise_signal(signal.SIGINT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 s per level and one round instead of 3 s and two")
    parser.add_argument("--work", type=Path, help="keep the artifact and server logs here")
    parser.add_argument("--only", default="abcde", help="which parts to run, e.g. 'a' or 'ace' (default: abcde)")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="concurrency levels (default: "
                                                                            "%(default)s)")
    args = parser.parse_args()
    missing = missing_extra(args.only)
    if missing:
        print(f"bench_serve.py: (b) FastAPI and (e) KServe need the bench extra (not found: {', '.join(missing)}); "
              "install it with: pip install -e '.[bench]'  (or run without them: --only acd)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminated)
    try:
        with contextlib.ExitStack() as stack:
            return run_bench(args, stack)
    except BenchError as exc:
        print(f"bench_serve.py: {exc}; every server it started is stopped", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (see _terminated)
        print(f"bench_serve.py: {'terminated' if _TERMINATED else 'interrupted'}; every server it started is stopped",
              file=sys.stderr)
        return 128 + (_TERMINATED[0] if _TERMINATED else signal.SIGINT)


def run_bench(args: argparse.Namespace, stack: contextlib.ExitStack) -> int:
    levels = tuple(int(c) for c in args.levels.split(","))
    seconds, rounds = (1.0, 1) if args.quick else (3.0, 2)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-serve-"))
    work.mkdir(parents=True, exist_ok=True)
    artifact, record, config = build_artifact(work)
    bodies = request_bodies()
    me = [sys.executable, str(Path(__file__).resolve())]
    if pinned():
        os.sched_setaffinity(0, {CLIENT_CPU})
    print(f"servers on CPU {SERVER_CPU}, load generator on CPU {CLIENT_CPU}" if pinned() else
          "one CPU: server and load generator share it", flush=True)
    print(f"closed loop, {seconds:g} s per run after 0.3 s warm-up; every server at every level in turn, best of "
          f"{rounds}; artifact {artifact}; load average before: {os.getloadavg()[0]:.2f}", flush=True)
    serve_argv = [sys.executable, "-m", "mlops", "serve", "--artifact", str(artifact), "--record", str(record),
                  "--config", str(config), "--port"]
    servers: dict[str, Server] = {}
    for key, name, argv, ready in (("a", MLOPS, serve_argv, "/v2/health/ready"),
                                   ("b", NAIVE, [*me, "server", "naive"], "/v2/health/ready"),
                                   ("e", KSERVE, [*me, "server", "kserve"], f"/v2/models/{MODEL}/ready"),
                                   ("e", KSERVE_QUIET, [*me, "server", "kserve-quiet"], f"/v2/models/{MODEL}/ready"),
                                   ("c", NOOP, [*me, "server", "noop"], PATH),
                                   ("c", NULL, [*me, "server", "null"], "/v2/health/ready")):
        if key in args.only:
            port = free_port()
            extra = [] if key == "a" else [str(artifact), str(record)]
            log = work / (re.sub(r"\W+", "-", name).strip("-") + ".log")
            servers[name] = start(stack, name, [*argv, str(port), *extra], port, ready, log)
    same_answers(servers, bodies)
    table, batches = interleaved(servers, bodies, levels, seconds, rounds)
    notes: dict[str, Any] = {"exit": {name: server.stop() for name, server in servers.items()}}
    if "a" in args.only:
        max_rps = max(r.rps() for r in table[MLOPS].values())
        overload_and_sigterm(stack, serve_argv, bodies, max_rps, seconds, notes, work)
    if "d" in args.only:
        eff = max(1, round(batches.get(max(levels), 1.0)))
        pin = ["taskset", "-c", str(SERVER_CPU)] if pinned() else []
        raw = json.loads(subprocess.run([*pin, *me, "forward", str(artifact), str(record), str(eff)], check=True,
                                        capture_output=True, text=True, cwd=ROOT).stdout.splitlines()[-1])
        print("  (d) raw forward on one CPU: " + ", ".join(f"batch {k}: {v:.0f} samples/s" for k, v in raw.items()))
        notes["d"] = (eff, raw[str(eff)])
    summary(table, notes, max(levels))
    print(f"  load average after (1 min; this benchmark alone adds about 2): {os.getloadavg()[0]:.2f}")
    return 0


def post(port: int, body: bytes, path: str = PATH) -> dict[str, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def same_answers(servers: dict[str, Server], bodies: list[bytes], n: int = 64) -> None:
    """Before timing: (b) and (e) answer the same outputs as (a) for the same requests (one at a time)."""
    if MLOPS not in servers:
        print(f"  answers not compared: {MLOPS} is not in this run", flush=True)
        return

    def outputs(server: Server) -> np.ndarray:
        return np.array([post(server.port, body)["outputs"][0]["data"] for body in bodies[:n]], np.float32)

    reference = outputs(servers[MLOPS])
    for name in (NAIVE, KSERVE, KSERVE_QUIET):
        if name in servers:
            got = outputs(servers[name])
            diff = float(np.abs(got - reference).max()) if got.shape == reference.shape else float("inf")
            if not diff <= 1e-5 or not (got.argmax(1) == reference.argmax(1)).all():
                raise BenchError(f"{name} answers differ from {MLOPS}'s (max |difference| {diff:g})")
            print(f"  {name}: same outputs as {MLOPS} for {n} requests (max |difference| {diff:g})", flush=True)


def overload_and_sigterm(stack: contextlib.ExitStack, argv: list[str], bodies: list[bytes], max_rps: float,
                         seconds: float, notes: dict[str, Any], work: Path) -> None:
    port = free_port()
    a = start(stack, MLOPS, [*argv, str(port)], port, "/v2/health/ready", work / "a-open.log")
    half = drive(open_loop(port, bodies, max_rps / 2, 2 * seconds))
    print(f"  (a) half load ({max_rps / 2:.0f} req/s, open loop): p50 {half.pct(50):.2f} ms  p99 "
          f"{half.pct(99):.2f} ms  statuses {dict(half.statuses)}", flush=True)
    for pool in (512, 1024):
        over = drive(open_loop(port, bodies, max_rps * 2, 2 * seconds, pool=pool))
        live = get(port, "/v2/health/live")[0]
        sent = sum(over.statuses.values()) / over.elapsed
        print(f"  (a) 2x overload, {pool} connections ({max_rps * 2:.0f} req/s offered, {sent:.0f}/s "
              f"sent; {over.skipped} found every connection busy): admitted {over.ok() / over.elapsed:.0f}/s p50 "
              f"{over.pct(50):.1f} ms p99 {over.pct(99):.1f} ms; 429 {over.statuses.get(429, 0) / over.elapsed:.0f}/s "
              f"p50 {over.pct(50, 429):.1f} ms (Retry-After on {over.retry_after}/{over.statuses.get(429, 0)}); "
              f"other {({k: v for k, v in over.statuses.items() if k not in (200, 429)})}; unanswered "
              f"{over.unanswered}; /v2/health/live after: {live}", flush=True)
    notes["half_p99"], notes["a_exit"] = half.pct(99), a.stop()

    port = free_port()
    a2 = start(stack, MLOPS, [*argv, str(port)], port, "/v2/health/ready", work / "a-sigterm.log")

    def sigterm_soon() -> None:
        asyncio.get_running_loop().call_later(1.5, a2.proc.send_signal, signal.SIGTERM)

    term = drive(closed_loop(port, bodies, 64, 3.0, warmup=0.0, on_start=sigterm_soon))
    a2.proc.wait(60)  # on timeout, the ExitStack kills it
    code = a2.stop()
    stopped = next((ln for ln in (work / "a-sigterm.log").read_text().splitlines() if "stopped:" in ln), "?")
    print(f"  (a) SIGTERM under load (c=64): exit {code}; client got {dict(term.statuses)}, connection closed with a "
          f"request unread {term.unanswered}, refused {term.refused}; server: {stopped.split('stopped: ')[-1]}",
          flush=True)
    notes["sigterm_exit"] = code


def summary(table: dict[str, dict[int, Result]], notes: dict[str, Any], top: int) -> None:
    rps = {name: rows[top].rps() for name, rows in table.items() if top in rows}
    a = rps.get(MLOPS)
    print(f"\nsummary at concurrency {top}: " + ", ".join(f"{k} {v:.0f} req/s" for k, v in rps.items()))
    cpu = {name: rows[top].cpu_us for name, rows in table.items() if top in rows}
    print("  server CPU per request: " + ", ".join(f"{k} {v:.0f} µs" for k, v in cpu.items())
          + "  (throughput on a dedicated core = 1 / this)")
    for name, goal in ((NAIVE, "  (goal ≥ 2)"), (KSERVE, ""), (KSERVE_QUIET, "")):
        if a and name in rps:
            tag = name.split()[0]
            print(f"  (a)/{tag} = {a / rps[name]:.2f}{goal};  by CPU per request: {cpu[name] / cpu[MLOPS]:.2f}")
    if a and NOOP in rps:
        mine = cpu[MLOPS]
        print(f"  (a)/(c) = {a / rps[NOOP]:.2f}  (goal ≥ 0.7);  (a)/(c') = {a / rps[NULL]:.2f};  by CPU per "
              f"request: (a)/(c) = {cpu[NOOP] / mine:.2f}, (a)/(c') = {cpu[NULL] / mine:.2f}")
    if a and "d" in notes:
        print(f"  (a)/(d at batch {notes['d'][0]}) = {a / notes['d'][1]:.2f}")
    if "half_p99" in notes:
        print(f"  p99 at half of max load = {notes['half_p99']:.2f} ms  (goal ≤ 25)")
        print(f"  (a) exit code after SIGTERM: idle {notes['exit'].get(MLOPS)}, after overload {notes['a_exit']}, "
              f"under load {notes['sigterm_exit']}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "server":
        sys.exit(run_server(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5])))
    if len(sys.argv) > 1 and sys.argv[1] == "forward":
        sizes = sorted({1, 32, int(sys.argv[4])})
        print(json.dumps(forward_rate(Path(sys.argv[2]), Path(sys.argv[3]), sizes)))
        sys.exit(0)
    sys.exit(main())
