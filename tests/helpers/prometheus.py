"""Helpers of the live Prometheus tests: real ``mlops serve`` processes, a real Prometheus scraping them, traffic.

Two versions of digits-cnn serve on loopback (image mode: ``--artifact``/``--record``):

- the healthy version is the digits CNN;
- the failing version has a real bug, no test hook: its network looks up an embedding of each pixel's
  intensity with 16 rows, while the data's intensities run 0…16. Every input holding a 16 makes the forward
  pass raise (``IndexError``), which the server answers 500. Its warm-up (random normal inputs) passes, so it
  starts and reports ready like any version.

Prometheus is Debian's ``prometheus``, scraping every second with the target labels the Prometheus Operator
sets from a ServiceMonitor (``job``, ``instance``, ``namespace``, ``pod``, ``service``).
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

from tests.helpers.serve import FEATURES, digits_rows, infer_body

MODEL = "digits-cnn"


def broken_artifact(directory: Path, model: str = MODEL) -> None:
    """A digits classifier with an off-by-one embedding table (16 intensity levels for data with 17)."""
    import torch
    from torch import nn

    from mlops.adapters.artifacts.signature import Signature
    from mlops.train.export import InferenceModule, write_program

    class OffByOne(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.levels = nn.Embedding(16, 2)
            self.head = nn.Linear(2 * len(FEATURES), 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.head(self.levels(x.clamp(min=0).long()).flatten(1))
            return out

    torch.manual_seed(0)
    sig = Signature.build(model, "classification", "input", FEATURES, list(range(10)))
    write_program(directory, InferenceModule(OffByOne(), None, None).eval(), sig)
    (directory / "metrics.json").write_text('{"metrics": {"accuracy": 0.1}}\n', "utf-8")
    (directory / "MODEL_CARD.md").write_text(f"# Model card: {model}\n\nAn off-by-one embedding.\n", "utf-8")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A child process whose stderr is collected; stopped with SIGTERM."""

    def __init__(self, args: list[str], cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 90) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            assert self.proc.poll() is None, "\n".join(self.lines[-30:])
            assert time.monotonic() < deadline, f"no line matching {pattern!r}:\n" + "\n".join(self.lines[-30:])
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.reader.join(10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()


def serve(artifact: Path, record: Path) -> Process:
    """``mlops serve`` in image mode on a free port (read from its "listening on" line by :func:`address`)."""
    return Process([sys.executable, "-m", "mlops", "serve", "--artifact", str(artifact), "--record", str(record),
                    "--port", "0", "--threads", "1"])


def address(served: Process) -> str:
    port = served.wait_for(r"http://127\.0\.0\.1:(\d+)").group(1)
    return f"http://127.0.0.1:{port}"


def wait_ready(servers: Mapping[str, str], timeout: float = 120) -> None:
    """Until every server answers ``/v2/health/ready`` with 200."""
    for name, url in servers.items():
        deadline = time.monotonic() + timeout
        while httpx.get(f"{url}/v2/health/ready", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, f"{name} server not ready"
            time.sleep(0.1)


class Prom:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, promql: str) -> list[dict[str, Any]]:
        resp = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["status"] == "success" and body["data"]["resultType"] == "vector", body
        return list(body["data"]["result"])

    def values(self, promql: str) -> list[float]:
        return [float(sample["value"][1]) for sample in self.query(promql)]

    def wait_for(self, promql: str, expected: list[float], timeout: float = 20) -> None:
        """Until ``promql`` evaluates to ``expected`` (e.g. until the last answers are scraped)."""
        deadline = time.monotonic() + timeout
        while self.values(promql) != expected:
            assert time.monotonic() < deadline, (promql, self.query(promql))
            time.sleep(0.25)


def scrape_targets(servers: Mapping[str, str], namespace: str, model: str = MODEL) -> list[dict[str, Any]]:
    """One static target per server, labelled as the Prometheus Operator labels a ServiceMonitor's targets."""
    return [{"targets": [url.removeprefix("http://")],
             "labels": {"namespace": namespace, "pod": f"{model}-{name}", "service": model}}
            for name, url in servers.items()]


def start_prometheus(directory: Path, scrape_configs: list[dict[str, Any]], started: list[Process],
                     interval: str = "1s") -> Prom:
    """A Prometheus server on a free port of 127.0.0.1 with ``scrape_configs``; appended to ``started``."""
    port = free_port()
    config = {"global": {"scrape_interval": interval, "evaluation_interval": interval},
              "scrape_configs": scrape_configs}
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    started.append(Process(["prometheus", f"--config.file={directory / 'prometheus.yml'}",
                            f"--storage.tsdb.path={directory / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
                            "--log.level=warn"], cwd=directory))
    prom = Prom(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{prom.url}/-/ready", timeout=2).status_code == 200:
                return prom
        except httpx.TransportError:
            pass
        assert started[-1].proc.poll() is None, "\n".join(started[-1].lines[-30:])
        assert time.monotonic() < deadline, "prometheus did not become ready"
        time.sleep(0.1)


def half_with_16(n: int, seed: int = 3) -> list[np.ndarray]:
    """``n`` single-row inputs: every other one holds a 16 (the broken version fails on it), the rest ≤ 15."""
    rows = digits_rows(4 * n, seed=seed)
    with16 = rows[rows.max(axis=1) == 16][:n]
    assert len(with16) == n
    return [with16[i] if i % 2 else np.minimum(with16[i], 15) for i in range(n)]


def send(servers: Mapping[str, str], rows: list[np.ndarray], seconds: float,
         model: str = MODEL) -> dict[str, Counter[int]]:
    """The same rows to every server, one request per row, spread over ``seconds``; status codes per server."""
    codes: dict[str, Counter[int]] = {name: Counter() for name in servers}
    started_at = time.monotonic()
    with httpx.Client(timeout=30) as client:
        for i, row in enumerate(rows):
            for name, url in servers.items():
                codes[name][client.post(f"{url}/v2/models/{model}/infer", json=infer_body(row[None])).status_code] += 1
            time.sleep(max(0.0, started_at + seconds * (i + 1) / len(rows) - time.monotonic()))
    return codes
