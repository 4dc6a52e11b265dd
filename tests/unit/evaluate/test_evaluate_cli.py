"""`mlops evaluate` on the command line: errors are one line with exit 1, usage errors exit 2, and the
artifact is only read through its record (a file:// artifact that does not match is refused)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops.evaluate.evaluate import Unavailable
from tests.helpers.scored import record_body, write_record

ROOT = Path(__file__).resolve().parents[3]


def mlops(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.run([sys.executable, "-m", "mlops", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_unknown_model_is_one_line_and_exit_1(example_repo: Path) -> None:
    done = mlops("evaluate", "nope", "--against", "dev", "--repo", str(example_repo))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == "models:1:1: no model named 'nope'; expected one of cancer-mlp, digits-cnn"


def test_no_records_says_to_train_and_writes_no_verdict(example_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "verdict.json"
    done = mlops("evaluate", "digits-cnn", "--against", "dev", "--json-out", str(out), "--repo", str(example_repo))
    assert done.returncode == 1 and "has no version records; train one first (`mlops train digits-cnn`)" in done.stderr
    assert not out.exists()


def test_missing_against_is_a_usage_error() -> None:
    done = mlops("evaluate", "digits-cnn")
    assert done.returncode == 2 and "--against" in done.stderr


def test_help_has_an_example() -> None:
    done = mlops("evaluate", "--help")
    assert done.returncode == 0 and "mlops evaluate digits-cnn --against staging" in done.stdout


def test_a_dvc_artifact_without_its_pointer_is_unavailable_for_a_baseline(example_repo: Path) -> None:
    from mlops.core.repo import load_repository
    from mlops.evaluate.scoring import ArtifactScorer

    record = write_record(example_repo, record_body("digits-cnn", "20250102-aaaaaaaa", {"accuracy": 0.9}))
    scorer = ArtifactScorer(load_repository(example_repo), "digits-cnn")
    with pytest.raises(Unavailable, match="no DVC pointer"):
        scorer.score(record, ["accuracy"])
