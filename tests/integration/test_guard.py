"""Guarded policy changes on a real repository and the local forge: a pull request that loosens a gate is warned
about by `validate --base`, flagged at the top of the report, and its `mlops/gates` status stays pending until
a member of the governance team approves its head; tightening needs nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.adapters.forge.local import LocalForge
from tests.conftest import run_cli
from tests.helpers.git import commit_all, git, init_repo, with_origin

TEAM = "@ml-platform/ml-governance"


@pytest.fixture
def repo(example_repo: Path) -> Path:
    (example_repo / ".github").mkdir()
    (example_repo / ".github" / "mlops.yaml").write_text(f'governance:\n  team: "{TEAM}"\n')
    init_repo(example_repo, gitignore="/.mlops/\n/data/\n")
    with_origin(example_repo, example_repo.parent / "origin.git")
    forge_dir = example_repo / ".mlops" / "forge"
    forge_dir.mkdir(parents=True)
    (forge_dir / "teams.json").write_text(json.dumps({TEAM: ["gina"]}))
    return example_repo


def propose(repo: Path, branch: str, old: str, new: str) -> int:
    git(repo, "checkout", "-q", "-b", branch)
    spec = repo / "models" / "digits-cnn" / "model.yaml"
    spec.write_text(spec.read_text().replace(old, new))
    commit_all(repo, f"digits-cnn: {new}")
    git(repo, "push", "-q", "origin", branch)
    return LocalForge(repo).open_pr(branch, "main", branch, "").number


def status(repo: Path, pr: int, tmp_path: Path) -> dict:  # type: ignore[type-arg]
    verdicts = tmp_path / "verdicts"
    verdicts.mkdir(exist_ok=True)
    sha = git(repo, "rev-parse", "HEAD")
    res = run_cli("report", "--status", "--verdicts", str(verdicts), "--sha", sha, "--base", "main", "--pr",
                  str(pr), "--repo", str(repo))
    assert res.code == 0, res.err
    return LocalForge(repo).statuses(sha)["mlops/gates"]  # type: ignore[no-any-return]


def test_a_loosened_gate_waits_for_the_governance_team(repo: Path, tmp_path: Path) -> None:
    pr = propose(repo, "loosen", "min: 0.9}", "min: 0.8}")
    checked = run_cli("validate", "--base", "main", "--repo", str(repo))
    assert checked.code == 0, checked.err
    assert "warning: models/digits-cnn/model.yaml:93:" in checked.err
    assert "loosens models/digits-cnn gates: gate 'min-accuracy' min 0.9 → 0.8" in checked.err

    report = run_cli("report", "--verdicts", str(tmp_path), "--base", "main", "--out", str(tmp_path / "r.md"),
                     "--pr", str(pr), "--repo", str(repo))
    assert report.code == 0, report.err
    text = (tmp_path / "r.md").read_text()
    assert "> [!WARNING]" in text and "loosens 1 rule(s)" in text and f"`{TEAM}`" in text

    first = status(repo, pr, tmp_path)
    assert first["state"] == "pending" and "needs an approval of this head by a member of" in first["description"]
    forge = LocalForge(repo)
    forge.review_as(pr, "alice")  # an approval, but not by the governance team
    assert status(repo, pr, tmp_path)["state"] == "pending"
    forge.review_as(pr, "gina")
    approved = status(repo, pr, tmp_path)
    assert approved["state"] == "success" and "approved by gina" in approved["description"]

    (repo / "README.md").write_text("a new push after the approval\n")
    commit_all(repo, "more")
    git(repo, "push", "-q", "origin", "loosen")
    assert status(repo, pr, tmp_path)["state"] == "pending"  # the approval was of another head


def test_tightening_needs_nothing(repo: Path, tmp_path: Path) -> None:
    pr = propose(repo, "tighten", "min: 0.9}", "min: 0.95}")
    checked = run_cli("validate", "--base", "main", "--repo", str(repo))
    assert checked.code == 0 and "warning" not in checked.err
    assert status(repo, pr, tmp_path)["state"] == "success"


def test_without_readable_members_a_loosening_stays_pending(repo: Path, tmp_path: Path) -> None:
    (repo / ".mlops" / "forge" / "teams.json").unlink()
    pr = propose(repo, "loosen", "max_regression: 0.01}", "max_regression: 0.05}")
    LocalForge(repo).review_as(pr, "gina")
    out = status(repo, pr, tmp_path)
    assert out["state"] == "pending" and "cannot read" in out["description"]


def test_governance_approval_through_github(repo: Path) -> None:
    from mlops.adapters.forge.github import GitHubForge
    from mlops.adapters.forge.retry import RetryPolicy
    from mlops.gitops.guard import governance_approval
    from tests.helpers import github_contract as cs
    from tests.helpers.github_state import BOT, install

    head = "a" * 40
    with cs.ContractServer() as server:
        state = install(server)
        state.pulls[5] = {"number": 5, "state": "open", "title": "loosen", "head": "loosen", "head_sha": head,
                          "base": "main", "base_sha": "b" * 40,
                          "reviews": [{"user": "gina", "state": "APPROVED", "commit": "c" * 40},  # an older head
                                      {"user": "alice", "state": "APPROVED", "commit": head}]}
        with GitHubForge("o/r", cs.TOKEN, server.url, identity=BOT, sleep=lambda s: None,
                         policy=RetryPolicy(attempts=2)) as forge:
            assert not governance_approval(repo, forge, 5, head).approved  # team unreadable: stays pending
            state.teams["ml-platform/ml-governance"] = ["gina"]
            stale = governance_approval(repo, forge, 5, head)
            assert not stale.approved and "needs an approval of this head" in stale.reason
            state.pulls[5]["reviews"].append({"user": "gina", "state": "APPROVED", "commit": head})
            assert governance_approval(repo, forge, 5, head).reason == f"approved by gina of {TEAM}"
        assert server.violations == []
