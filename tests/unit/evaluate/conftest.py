"""Fixtures: version records written by hand into the example repository copy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlops.core.spec.record import VersionRecord
from tests.helpers.scored import record_body, write_record


@pytest.fixture
def add_record(example_repo: Path) -> Callable[..., VersionRecord]:
    def add(model: str, version: str, metrics: dict[str, float], **kw: Any) -> VersionRecord:
        return write_record(example_repo, record_body(model, version, metrics, **kw))

    return add
