"""The README's main command end to end: the whole loop in a sandbox (real git, DVC, training, serving)."""

from __future__ import annotations

import re
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
    assert re.search(r"dev → staging: PR #2 merged by policy \(every gate passed with confidence", out)
    assert re.search(r"staging switched under load: \d+ requests, 0 failed", out)
    assert "failed its smoke test: the answer is not finite numbers" in out
    assert re.search(r"revert PR #3 .* merged by policy", out) and "(pinned in git too: True)" in out
    # the monitor: drifted traffic → a retraining PR the PR loop reports on; a bad live version → rolled back
    assert re.search(r"retraining PR #4 \(.*\): 300 new rows, data \w+ → \w+", out)
    assert "→ retrain: drift and live performance below the record" in out
    assert re.search(r"dev (pass|FAIL); the report is PR #4's comment", out)
    assert "opened issue #1 (out-of-range)" in out and "closed issue #1 (out-of-range): cleared" in out
    assert re.search(r"no drift, live accuracy [\d.]+ \(worse\) → rollback", out)
    assert re.search(r"revert PR #5 .* merged by policy", out)
    assert out.count("(pinned in git too: True)") == 2
    forge = ROOT / ".mlops/demo/work/.mlops/forge"
    assert forge.is_dir() and any(forge.rglob("*.json"))
