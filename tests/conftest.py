"""Shared fixtures: a copy of the example repository to change freely, and a CLI runner."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.git import EXAMPLE_PARTS, ROOT, copy_example

__all__ = ["EXAMPLE_PARTS", "ROOT", "Result", "run_cli"]


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
    """Run ``python -m mlops`` in a subprocess, as a user would."""
    proc = subprocess.run([sys.executable, "-m", "mlops", *args], cwd=cwd or ROOT, capture_output=True,
                          text=True, env=env, timeout=600)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def example_repo(tmp_path: Path) -> Iterator[Path]:
    """A copy of the example repository (specs, environments, DVC pointer and cache manifest)."""
    dest = copy_example(tmp_path / "repo")
    yield dest
