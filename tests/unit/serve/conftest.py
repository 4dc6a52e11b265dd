"""Fixtures for the serving tests: a real exported digits artifact, and an in-process server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_artifacts import build_artifact, write_record

from mlops.serve.app import App
from mlops.serve.metrics import Metrics
from mlops.serve.predictor import Predictor
from mlops.serve.predlog import PredictionLog
from mlops.serve.server import Limits, Runtime, bind


@dataclass(frozen=True)
class Artifact:
    dir: Path
    record_file: Path
    record: Any
    module: Any

    @property
    def version(self) -> str:
        return str(self.record.version)


@pytest.fixture(scope="session")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    """A real artifact (program.pt2 of the digits CNN, exported like `mlops train` does) and its record."""
    root = tmp_path_factory.mktemp("digits")
    module = build_artifact(root / "artifact")
    record = write_record(root / "artifact", root / "record.yaml")
    return Artifact(root / "artifact", root / "record.yaml", record, module)


@pytest.fixture(scope="session")
def predictor(digits: Artifact) -> Predictor:
    from mlops.adapters.artifacts.loader import load_verified

    return load_verified(digits.dir, digits.record)


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


@pytest.fixture
def serve(digits: Artifact) -> Iterator[Callable[..., Running]]:
    """``serve(predictor, limits=..., predlog=..., ready=True)``: a server for this test only."""
    started: list[Running] = []

    def start(pred: Predictor, **kw: Any) -> Running:
        started.append(start_server(digits, pred, **kw))
        return started[-1]

    yield start
    for running in started:
        if running.thread.is_alive():
            running.stop()


@pytest.fixture(scope="module")
def shared(digits: Artifact, predictor: Predictor) -> Iterator[Running]:
    """One server for the tests of a module that only read from it."""
    running = start_server(digits, predictor)
    yield running
    running.stop()
