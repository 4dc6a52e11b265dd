"""The README's main command end to end: the whole loop in a sandbox (real git, DVC, training, serving)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_demo_runs_the_whole_loop() -> None:
    proc = subprocess.run([sys.executable, "scripts/demo_loop.py"], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in out + proc.stderr
    assert "opened pull request #1 propose/digits-cnn-wider → main" in out
    assert "<!-- mlops-report -->" in out and "xychart-beta" in out
    assert "| `channels` | `16` | `24` |" in out  # the params diff of the proposal
    assert "dev: 2 models" in out  # rendered after the merge
    assert "SIGTERM → drained and exited with 0" in out
    forge = ROOT / ".mlops/demo/work/.mlops/forge"
    assert forge.is_dir() and any(forge.rglob("*.json"))
