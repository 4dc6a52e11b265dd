"""`mlops explain` on a real git history: pull requests merged on the local forge, a promotion, a direct pin, a
rollback; the same history explained through GitHub's REST API (the contract stub checks every request)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from mlops.adapters.forge.local import LocalForge
from mlops.deploy.pin import set_pin
from tests.conftest import run_cli
from tests.helpers import github_contract as cs
from tests.helpers.git import commit_all, git, init_repo, with_origin
from tests.helpers.github_state import install
from tests.helpers.records import write_record

MODEL, V1, V2, V3 = "digits-cnn", "20260101-aaaaaaa1", "20260102-aaaaaaa2", "20260103-aaaaaaa3"


def pin(repo: Path, env: str, version: str) -> None:
    path = repo / "environments" / f"{env}.yaml"
    path.write_text(set_pin(path.read_text(), str(path), MODEL, version))


def merged_pr(repo: Path, forge: LocalForge, branch: str, env: str, version: str, reviewer: str) -> int:
    git(repo, "checkout", "-q", "-b", branch)
    pin(repo, env, version)
    commit_all(repo, f"Pin {MODEL}@{version} in {env}")
    git(repo, "push", "-q", "origin", branch)
    git(repo, "checkout", "-q", "main")
    pr = forge.open_pr(branch, "main", f"Pin {version} in {env}", "")
    forge.set_status(pr.head_sha, "success", "mlops/gates", f"required gates passed ({env})")  # the PR loop's
    forge.review_as(pr.number, reviewer)
    forge.merge_pr(pr.number, forge.get_pr(pr.number).head_sha, f"Merge pull request #{pr.number}")
    git(repo, "pull", "-q", "--ff-only", "origin", "main")
    return pr.number


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dev: v1 by PR #1 (alice) → v2 directly → v3 directly → back to v2 by a rollback; staging: v1 by PR #2 (bob)."""
    from tests.helpers.git import copy_example

    repo = copy_example(tmp_path_factory.mktemp("explain") / "repo")
    for version, accuracy in ((V1, 0.95), (V2, 0.96), (V3, 0.5)):
        write_record(repo, MODEL, version, metrics={"accuracy": accuracy, "macro_f1": 0.9, "log_loss": 0.2})
    init_repo(repo, gitignore="/.mlops/\n/data/\n")
    with_origin(repo, repo.parent / "origin.git")
    forge = LocalForge(repo)
    assert merged_pr(repo, forge, "pin-v1-dev", "dev", V1, "alice") == 1
    assert merged_pr(repo, forge, "promote-v1-staging", "staging", V1, "bob") == 2
    pin(repo, "dev", V2)
    commit_all(repo, f"Pin {MODEL}@{V2} in dev")
    pin(repo, "dev", V3)
    bad = commit_all(repo, f"Pin {MODEL}@{V3} in dev")
    pin(repo, "dev", V2)
    back = commit_all(repo, f"Rollback {MODEL} in dev to {V2} [mlops-rollback]")
    for sha, state in ((bad, "failure"), (back, "success")):  # what deploy.yml records on the forge
        forge.set_deployment_status(forge.create_deployment(sha, "dev", "local deploy of dev"), state, state)
    return repo


def explain(repo: Path, *args: str, env: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
    res = run_cli("explain", *args, "--json", "--repo", str(repo), env=env)
    assert res.code == 0, res.err
    return json.loads(res.out)  # type: ignore[no-any-return]


def test_why_a_version_runs_in_staging_from_git_and_the_local_forge(history: Path) -> None:
    out = explain(history, "staging", MODEL)
    assert out["version"] == V1 and out["record"]["metrics"]["accuracy"] == 0.95
    assert out["record"]["artifact"]["digest"].startswith("sha256:") and out["record"]["data"]["md5"]
    pinned = out["pinned_by"]
    assert pinned["before"] is None and pinned["after"] == V1 and not pinned["rollback"]
    assert pinned["pull_request"]["number"] == 2 and pinned["pull_request"]["approved_by"] == ["bob"]
    assert pinned["pull_request"]["merged"] is True
    assert pinned["pull_request"]["gates"] == {"state": "success", "description": "required gates passed (staging)"}
    assert [(e["environment"], e["pull_request"]["number"]) for e in out["promotion_path"]] == [("dev", 1),
                                                                                             ("staging", 2)]
    assert out["pinned_in"] == ["staging"] and out["gates"]["passed"] is True


def test_a_rollback_explains_itself_and_the_history_marks_it(history: Path) -> None:
    out = explain(history, "dev", MODEL)
    assert out["version"] == V2
    assert out["pinned_by"]["rollback"] is True and out["pinned_by"]["before"] == V3
    assert out["gates"]["baseline"] == V3  # the gates compare it with the version it replaced
    assert [(e["before"], e["after"], e["rollback"]) for e in out["history"]] == [
        (V3, V2, True), (V2, V3, False), (V1, V2, False), (None, V1, False)]
    assert [e["environment"] for e in out["promotion_path"]] == ["dev"]
    assert out["promotion_path"][0]["subject"] == f"Pin {MODEL}@{V2} in dev"  # how it arrived, not the rollback
    assert [(d["version"], d["state"]) for d in out["deploys"]] == [(V2, "success"), (V3, "failure")]


def test_the_page_for_people(history: Path) -> None:
    res = run_cli("explain", "dev", MODEL, "--repo", str(history))
    assert res.code == 0, res.err
    assert res.out.startswith(f"{MODEL}@{V2} runs in dev\n")
    assert "rollback" in res.out and "gates in dev against" in res.out and "pin history of" in res.out
    assert f"{MODEL}@{V3}  failure" in res.out and "deployments to dev (newest first)" in res.out


def test_a_version_pinned_nowhere(history: Path) -> None:
    out = explain(history, f"{MODEL}@{V3}")
    assert out["environment"] is None and out["pinned_in"] == [] and out["pinned_by"] is None
    assert [(e["environment"], e["after"]) for e in out["promotion_path"]] == [("dev", V3)]
    no_forge = explain(history, f"{MODEL}@{V1}", "--no-forge")
    assert [e["pull_request"] for e in no_forge["promotion_path"]] == [None, None]


def test_bad_requests_fail_in_one_line(history: Path) -> None:
    missing = run_cli("explain", "prod", MODEL, "--repo", str(history))
    assert missing.code == 1 and re.match(r"environments/prod\.yaml:\d+:\d+: ", missing.err), missing.err
    assert "not pinned in prod (pinned in dev, staging)" in missing.err and "Traceback" not in missing.err
    unknown = run_cli("explain", f"{MODEL}@20990101-deadbeef", "--repo", str(history))
    assert unknown.code == 1 and "20990101-deadbeef" in unknown.err and len(unknown.err.splitlines()) == 1
    nomodel = run_cli("explain", "dev", "no-such-model", "--repo", str(history))
    assert nomodel.code == 1 and "no-such-model" in nomodel.err
    usage = run_cli("explain", "dev", "--repo", str(history))
    assert usage.code == 2 and "ENV MODEL or MODEL@VERSION" in usage.err


def test_pull_requests_and_reviews_through_github(history: Path) -> None:
    local = LocalForge(history)
    with cs.ContractServer() as server:
        state = install(server)
        for number in (1, 2):
            pull = local.pull(number)
            state.pulls[number] = {"number": number, "state": "closed", "title": pull["title"], "head": pull["head"],
                                   "head_sha": pull["head_sha"], "base": "main", "base_sha": pull["head_sha"],
                                   "merge_sha": pull["merge_sha"], "merged_at": "2026-12-01T00:00:00Z",
                                   "user": "carol", "reviews": [{"user": "dave", "state": "APPROVED",
                                                                 "commit": pull["head_sha"]}]}
        server.state.statuses.append({"sha": local.pull(2)["head_sha"], "state": "failure", "context": "mlops/gates",
                                      "description": "digits-cnn failed staging"})
        env = {**os.environ, "GITHUB_TOKEN": cs.TOKEN, "GITHUB_REPOSITORY": "o/r", "GITHUB_API_URL": server.url}
        out = explain(history, "staging", MODEL, env=env)
        assert server.violations == []
    pr = out["pinned_by"]["pull_request"]
    assert (pr["number"], pr["author"], pr["approved_by"]) == (2, "carol", ["dave"])
    assert pr["url"] == "https://github.com/o/r/pull/2"
    assert pr["gates"] == {"state": "failure", "description": "digits-cnn failed staging"}
