"""Helpers of the serving tests: a real artifact and version record, and an in-process server.

The artifact (docs/ARTIFACT.md) holds the digits CNN of ``models/digits-cnn/model.py``, exported by the
same code as ``mlops train`` (``mlops.train.export``), with seeded weights and the real digits features'
standardisation. The server runs uvloop in a thread and binds a free port of 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from mlops.serve.app import App
from mlops.serve.metrics import Metrics
from mlops.serve.predictor import Predictor
from mlops.serve.predlog import PredictionLog
from mlops.serve.server import Limits, Runtime, bind

ROOT = Path(__file__).resolve().parents[2]
MODEL_PY = ROOT / "models" / "digits-cnn" / "model.py"
FEATURES = [f"pixel_{i}" for i in range(64)]


def digits_net(seed: int = 0) -> Any:
    import torch

    spec = importlib.util.spec_from_file_location("_serve_test_digits_cnn", MODEL_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    torch.manual_seed(seed)
    return module.build({"channels": 16, "hidden": 64, "dropout": 0.1}, 64, 10).eval()


def digits_rows(n: int, seed: int = 0) -> np.ndarray:
    """``n`` realistic inputs: scikit-learn's digits when available, else pixel-like noise."""
    try:
        from sklearn.datasets import load_digits

        data = load_digits().data.astype(np.float32)
        return data[np.random.default_rng(seed).integers(0, len(data), n)]
    except Exception:  # pragma: no cover - scikit-learn is a dependency
        return np.random.default_rng(seed).integers(0, 17, (n, 64)).astype(np.float32)


def build_artifact(directory: Path, *, model: str = "digits-cnn", seed: int = 0) -> Any:
    """Write program.pt2, signature.json, metrics.json and MODEL_CARD.md; return the module exported."""
    from mlops.adapters.artifacts.signature import Signature
    from mlops.train.export import InferenceModule, write_program

    sig = Signature.build(model, "classification", "input", FEATURES, list(range(10)))
    rows = digits_rows(512, seed)
    module = InferenceModule(digits_net(seed), rows.mean(0), rows.std(0) + 1e-3).eval()
    write_program(directory, module, sig)
    (directory / "metrics.json").write_text('{"metrics": {"accuracy": 0.1}}\n', "utf-8")
    (directory / "MODEL_CARD.md").write_text(f"# Model card: {model}\n\nA test artifact.\n", "utf-8")
    return module


def write_record(artifact: Path, record_file: Path, *, model: str = "digits-cnn", uri: str | None = None) -> Any:
    """A valid, finalised version record of ``artifact`` (as ``mlops train`` writes it)."""
    from mlops.core.lineage import hash_artifact, version_id
    from mlops.train.record import finalize

    digest, files = hash_artifact(artifact)
    version = version_id(digest, datetime(2025, 1, 1, tzinfo=UTC))
    data = {"path": "data/digits/digits.csv", "md5": "0" * 32 + ".dir", "rows": {"train": 1000}}
    body = {
        "model": model, "version": version, "created": "2025-01-01T00:00:00Z",
        "artifact": {"digest": digest, "uri": uri or f"dvc://models/{model}/versions/{version}", "files": files,
                     "format": "torch.export"},
        "data": data, "evaluation_data": data, "seed": 0, "metrics": {"accuracy": 0.1}, "duration_s": 1.0,
        "code": {"commit": "0" * 40, "dirty": False, "model_py_sha256": "sha256:" + "0" * 64},
        "environment": {"python": "3.11", "torch": "2.13.0", "mlops": "0.1.0", "device": "cpu", "cpu": "test"},
    }
    record, text = finalize(body)
    record_file.parent.mkdir(parents=True, exist_ok=True)
    record_file.write_text(text, "utf-8")
    return record


class Gated:
    """A predictor that records every batch, can be slowed down, and can be held at a gate."""

    def __init__(self, inner: Any, delay: float = 0.0) -> None:
        self.inner, self.delay = inner, delay
        self.gate = threading.Event()
        self.gate.set()
        self.sizes: list[int] = []
        self.lock = threading.Lock()

    @property
    def signature(self) -> Any:
        return self.inner.signature

    def predict(self, x: np.ndarray) -> np.ndarray:
        self.gate.wait(30)
        with self.lock:
            self.sizes.append(len(x))
        if self.delay:
            time.sleep(self.delay)
        return self.inner.predict(x)


def infer_body(rows: np.ndarray, rid: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"inputs": [{"name": "input", "datatype": "FP32", "shape": list(rows.shape),
                                        "data": rows.reshape(-1).tolist()}]}
    if rid is not None:
        body["id"] = rid
    return body


@dataclass(frozen=True)
class Artifact:
    dir: Path
    record_file: Path
    record: Any
    module: Any

    @property
    def version(self) -> str:
        return str(self.record.version)


@dataclass
class Running:
    runtime: Runtime
    app: App
    metrics: Metrics
    url: str
    thread: threading.Thread
    errors: list[BaseException] = field(default_factory=list)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)

    def post(self, path: str, body: Any, **kw: Any) -> httpx.Response:
        return httpx.post(self.url + path, json=body, timeout=10, **kw)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.app.state != "ready":
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.01)

    def stop(self) -> None:
        self.runtime.request_stop()
        self.thread.join(30)
        assert not self.thread.is_alive(), "server did not stop"


def start_server(digits: Artifact, pred: Predictor, *, limits: Limits | None = None,
                 predlog: PredictionLog | None = None, ready: bool = True, max_lag_ms: float = 1000.0) -> Running:
    """An in-process server (uvloop in a thread) on a free port of 127.0.0.1."""
    import uvloop

    limits = limits or Limits(max_batch_size=32, max_latency_ms=5, max_queue=256, warmup_runs=1)
    metrics = Metrics("digits-cnn", digits.version, digits.record.artifact.digest, limits.max_batch_size)
    app = App("digits-cnn", digits.version, metrics, predlog, max_lag_ms=max_lag_ms)
    runtime = Runtime(lambda: pred, app, metrics, predlog, limits, bind("127.0.0.1", 0))
    running = Running(runtime, app, metrics, f"http://127.0.0.1:{runtime.port}", threading.Thread())

    def main() -> None:
        try:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(runtime.serve(install_signals=False))
        except BaseException as exc:  # surfaced by wait_ready/stop
            running.errors.append(exc)

    running.thread = threading.Thread(target=main, name="test-server", daemon=True)
    running.thread.start()
    if ready:
        running.wait_ready()
    return running
