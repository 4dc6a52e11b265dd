"""A pull request's files cannot stand in for the framework, or for DVC, in the jobs that read them as data.

The checkout is the pull request's tree: it can hold an ``mlops/`` or ``dvc/`` package, and an earlier step that ran
its code (the user's model.py) can set PYTHONPATH through $GITHUB_ENV. The actions run ``python -I -m mlops`` (no
working directory, no PYTHON* variables on the path), and mlops runs DVC the same way; the control cases show
the attack works without it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from workflow_harness import ActionRunner

from mlops.adapters.artifacts.dvc import run_dvc
from tests.helpers.git import init_repo

PAYLOAD = "import pathlib; pathlib.Path({marker!r}).write_text('the PR ran as the framework')\n"


def _plant(repo: Path, package: str, marker: Path) -> None:
    evil = repo / package
    evil.mkdir()
    for name in ("__init__.py", "__main__.py"):
        (evil / name).write_text(PAYLOAD.format(marker=str(marker)), encoding="utf-8")


def test_a_planted_mlops_package_runs_without_isolation_and_not_in_the_actions(
        example_repo: Path, action_runner: ActionRunner, tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    _plant(example_repo, "mlops", marker)
    env = {**os.environ, "PYTHONPATH": str(example_repo)}
    subprocess.run([sys.executable, "-m", "mlops", "--version"], cwd=example_repo, env=env, capture_output=True,
                   check=False)
    assert marker.exists(), "control: without -I the PR's package is imported"
    marker.unlink()
    result = action_runner.run("validate", "mlops validate", {"repo": ".", "python": sys.executable},
                               cwd=example_repo, extra_env={"PYTHONPATH": str(example_repo)})
    assert result.code == 0, result.stdout + result.stderr
    assert not marker.exists()


def test_dvc_runs_isolated_from_the_checkout(example_repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    init_repo(example_repo)
    _plant(example_repo, "dvc", marker)
    subprocess.run([sys.executable, "-m", "dvc", "version"], cwd=example_repo, capture_output=True, check=False)
    assert marker.exists(), "control: `python -m dvc` in the checkout imports the PR's dvc/"
    marker.unlink()
    assert "dvc" in run_dvc(example_repo, "version").lower()
    assert not marker.exists()
