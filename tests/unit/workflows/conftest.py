"""Fixtures for the workflow and composite-action tests (the harness is in workflow_harness.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_harness import ActionRunner, make_runner


@pytest.fixture
def action_runner(tmp_path: Path) -> ActionRunner:
    return make_runner(tmp_path)
