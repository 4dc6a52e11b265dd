"""Fixtures for the core tests: valid version records (shared with other folders via tests/helpers/records.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.records import DATA_MD5, DIGEST, record_body, write_record

__all__ = ["DATA_MD5", "DIGEST", "record_body", "write_record"]


@pytest.fixture
def make_record() -> Callable[..., Path]:
    return write_record
