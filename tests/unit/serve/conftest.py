"""Fixtures for the serving tests: a real exported digits artifact, and an in-process server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mlops.serve.predictor import Predictor
from tests.helpers.serve import Artifact, Running, build_artifact, start_server, write_record


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
