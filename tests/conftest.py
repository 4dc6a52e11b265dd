"""Shared fixtures: a copy of the example repository to change freely, and a CLI runner."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PARTS = ["models", "environments", "data.dvc", ".dvc/config", ".dvc/.gitignore", ".dvcignore"]


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
    dest = tmp_path / "repo"
    dest.mkdir()
    for part in EXAMPLE_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / part)
    cache = ROOT / ".dvc" / "cache"
    if cache.is_dir():
        shutil.copytree(cache, dest / ".dvc" / "cache")
    yield dest
