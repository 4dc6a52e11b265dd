"""`mlops diff`: per-environment manifest diff between two commits of a real git repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.core.errors import UsageError, UserError
from mlops.gitops.diff import manifest_diff
from tests.conftest import run_cli
from tests.helpers.git import git as _git

V1 = "20250101-aaaaaaaa"
V2 = "20250102-bbbbbbbb"



def _set(repo: Path, env: str, old: str, new: str) -> None:
    path = repo / "environments" / f"{env}.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.fixture
def git_repo(example_repo: Path) -> Path:
    """Three commits: no pins; digits-cnn pinned in dev; then promoted (v2) with more replicas."""
    _git(example_repo, "init", "-q", "-b", "main")
    _git(example_repo, "add", "-A")
    _git(example_repo, "commit", "-qm", "initial")
    _set(example_repo, "dev", "pins: {}", f"pins: {{digits-cnn: {V1}}}")
    _git(example_repo, "commit", "-qam", "pin digits-cnn in dev")
    _set(example_repo, "dev", V1, V2)
    _set(example_repo, "dev", "min: 1, max: 2", "min: 2, max: 5")
    _git(example_repo, "commit", "-qam", "promote v2, more replicas")
    return example_repo


def test_pin_added_between_two_commits(git_repo: Path) -> None:
    diff = manifest_diff(git_repo, "HEAD~2", "HEAD~1")
    assert [e.env for e in diff.envs] == ["dev", "staging", "prod"]
    dev = diff.envs[0]
    assert dev.added == [f"digits-cnn/{f}" for f in ("configmap.yaml", "deployment.yaml", "hpa.yaml",
                                                     "networkpolicy.yaml", "pdb.yaml", "service.yaml",
                                                     "serviceaccount.yaml")]
    assert dev.removed == [] and dev.changed == ["kustomization.yaml"]
    assert dev.notes == [f"digits-cnn added ({V1})"]
    assert "+++ b/dev/digits-cnn/deployment.yaml" in dev.unified
    assert "--- /dev/null" in dev.unified
    assert diff.envs[1].empty and diff.envs[2].empty
    assert dev.summary() == f"dev: 7 added, 0 removed, 1 changed — digits-cnn added ({V1})"


def test_version_and_replica_change(git_repo: Path) -> None:
    diff = manifest_diff(git_repo, "HEAD~1", "HEAD", envs=["dev"])
    (dev,) = diff.envs
    assert dev.added == [] and dev.removed == []
    assert "digits-cnn/deployment.yaml" in dev.changed and "digits-cnn/hpa.yaml" in dev.changed
    assert f"digits-cnn: version {V1} → {V2}" in dev.notes
    assert "digits-cnn: replicas 1–2 → 2–5" in dev.notes
    assert f"-        image: localhost:5000/mlops/digits-cnn:{V1}" in dev.unified
    assert f"+        image: localhost:5000/mlops/digits-cnn:{V2}" in dev.unified
    assert diff.base.startswith("HEAD~1 (") and diff.head.startswith("HEAD (")


def test_working_tree_is_the_default_head(git_repo: Path) -> None:
    assert manifest_diff(git_repo, "HEAD").empty
    _set(git_repo, "dev", f"pins: {{digits-cnn: {V2}}}", "pins: {}")
    diff = manifest_diff(git_repo, "HEAD")
    assert diff.head == "working tree"
    dev = diff.envs[0]
    assert len(dev.removed) == 7 and dev.notes == [f"digits-cnn removed ({V2})"]


def test_revision_that_does_not_validate_is_named(git_repo: Path) -> None:
    _set(git_repo, "staging", "pins: {}", "pins: {ghost: 20250101-aaaaaaaa}")
    _git(git_repo, "commit", "-qam", "dangling pin")
    sha = _git(git_repo, "rev-parse", "HEAD").strip()
    with pytest.raises(UserError) as info:
        manifest_diff(git_repo, "HEAD~1", "HEAD")
    problem = info.value.problems[0]
    assert problem.path == "environments/staging.yaml"
    assert problem.message.startswith(f"at revision HEAD ({sha[:12]}): pin names model 'ghost'")


def test_unknown_revision_and_environment(git_repo: Path) -> None:
    with pytest.raises(UsageError, match="unknown git revision 'nope'"):
        manifest_diff(git_repo, "nope")
    with pytest.raises(UsageError, match="no kubernetes environment named 'qa'"):
        manifest_diff(git_repo, "HEAD~1", envs=["qa"])


def test_not_a_git_repository(example_repo: Path) -> None:
    with pytest.raises(UsageError, match="not inside a git repository"):
        manifest_diff(example_repo, "HEAD")


def test_repository_in_a_subdirectory(tmp_path: Path, example_repo: Path) -> None:
    top = tmp_path / "mono"
    (top / "ml").mkdir(parents=True)
    for part in example_repo.iterdir():
        part.rename(top / "ml" / part.name)
    _git(top, "init", "-q")
    _git(top, "add", "-A")
    _git(top, "commit", "-qm", "initial")
    _set(top / "ml", "prod", "pins: {}", f"pins: {{cancer-mlp: {V1}}}")
    diff = manifest_diff(top / "ml", "HEAD")
    assert [len(e.added) for e in diff.envs] == [0, 0, 11]  # prod: + Rollout, analysis, monitoring


def test_cli(git_repo: Path) -> None:
    result = run_cli("diff", "--base", "HEAD~1", "--head", "HEAD", "--repo", str(git_repo))
    assert result.code == 0, result.err
    assert "=== dev ===" in result.out
    assert result.out.rstrip().splitlines()[-3:] == [
        f"dev: 0 added, 0 removed, 7 changed — digits-cnn: version {V1} → {V2}; digits-cnn: replicas 1–2 → 2–5",
        "staging: no changes", "prod: no changes"]
    as_json = run_cli("diff", "--base", "HEAD~1", "--env", "dev", "--format", "json", "--repo", str(git_repo))
    data = json.loads(as_json.out)
    assert data["envs"][0]["env"] == "dev" and data["envs"][0]["changed"]
    bad = run_cli("diff", "--base", "nope", "--repo", str(git_repo))
    assert bad.code == 2 and "unknown git revision" in bad.err and "Traceback" not in bad.err
    missing = run_cli("diff", "--repo", str(git_repo))
    assert missing.code == 2 and "--base" in missing.err
