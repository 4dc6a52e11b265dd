"""Version records are append-only against a base revision (real git repository)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.gitops.records import record_changes
from tests.conftest import run_cli
from tests.helpers.git import git as _git


@pytest.fixture
def git_repo(example_repo: Path) -> Path:
    _git(example_repo, "init", "-q", "-b", "main")
    record = example_repo / "models/digits-cnn/versions/20261201-aaaaaaaa.yaml"
    record.write_text("model: digits-cnn\n")
    _git(example_repo, "add", "-A")
    _git(example_repo, "commit", "-qm", "base")
    return example_repo


def test_added_record_is_fine(git_repo: Path) -> None:
    (git_repo / "models/digits-cnn/versions/20261202-bbbbbbbb.yaml").write_text("model: digits-cnn\n")
    assert record_changes(git_repo, "HEAD") == []


def test_edited_record_is_refused(git_repo: Path) -> None:
    record = git_repo / "models/digits-cnn/versions/20261201-aaaaaaaa.yaml"
    record.write_text("model: digits-cnn\nmetrics: {accuracy: 1.0}\n")
    problems = record_changes(git_repo, "HEAD")
    assert [str(p) for p in problems] == [
        "models/digits-cnn/versions/20261201-aaaaaaaa.yaml:1:1: version record changed since HEAD; "
        "records are immutable (train a new version instead)"
    ]


def test_deleted_record_is_refused(git_repo: Path) -> None:
    (git_repo / "models/digits-cnn/versions/20261201-aaaaaaaa.yaml").unlink()
    problems = record_changes(git_repo, "HEAD")
    assert len(problems) == 1 and "deleted since HEAD" in problems[0].message


def test_cli_unknown_base_is_a_usage_error(git_repo: Path) -> None:
    (git_repo / "models/digits-cnn/versions/20261201-aaaaaaaa.yaml").unlink()
    result = run_cli("validate", "--repo", str(git_repo), "--base", "no-such-ref")
    assert result.code == 2
    assert "unknown git revision 'no-such-ref'" in result.err and "Traceback" not in result.err
