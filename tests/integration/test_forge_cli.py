"""`mlops report` driven like GitHub Actions runs it: real webhook payloads as GITHUB_EVENT_PATH, the REST calls
going to a local server that checks each one against GitHub's OpenAPI description."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops.core.policy import Subject, Verdict, judge
from mlops.core.spec.model import Gate
from tests.helpers import github_contract as cs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "github"
EVENTS = FIXTURES / "events"
ROOT = Path(__file__).resolve().parents[2]
HEAD_SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"  # pull_request.opened.json's head commit




@pytest.fixture
def gh() -> Iterator[Any]:
    with cs.ContractServer() as server:
        yield server
        assert server.violations == []


def mlops(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_"))}
    return subprocess.run([sys.executable, "-m", "mlops", *args], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=300)


def actions_env(gh: Any, tmp_path: Path, event: Path, name: str) -> dict[str, str]:
    return {"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": cs.TOKEN, "GITHUB_REPOSITORY": "Codertocat/Hello-World",
            "GITHUB_API_URL": gh.url, "GITHUB_EVENT_PATH": str(event), "GITHUB_EVENT_NAME": name,
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": "42"}


def write_verdict(directory: Path, env: str, accuracy: float, minimum: float = 0.9) -> None:
    gates = [(Gate(name="min-accuracy", metric="accuracy", min=minimum), "model")]
    candidate = Subject("20250102-aaaaaaaa", {"accuracy": accuracy})
    verdict = Verdict("digits-cnn", env, candidate, None, judge(gates, candidate.metrics, None), "md5")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"digits-cnn--{env}.json").write_text(json.dumps(verdict.to_dict()))


def derived_event(tmp_path: Path, source: str, change: dict[str, Any]) -> Path:
    """A real payload with one field changed (e.g. a fork's head repository, a workflow_dispatch input)."""
    payload = json.loads((EVENTS / source).read_text())
    for dotted, value in change.items():
        node = payload
        *parents, last = dotted.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    path = tmp_path / source
    path.write_text(json.dumps(payload))
    return path


def test_report_comments_on_the_events_pull_request_once_then_updates_in_place(
        gh: Any, tmp_path: Path, example_repo: Path) -> None:
    verdicts = tmp_path / "verdicts"
    write_verdict(verdicts, "dev", 0.95)
    env = actions_env(gh, tmp_path, EVENTS / "pull_request.opened.json", "pull_request")
    args = ("report", "--verdicts", str(verdicts), "--repo", str(example_repo))
    first = mlops(*args, env=env)
    assert first.returncode == 0, first.stderr
    assert "created comment on #2: https://github.com/o/r/pull/2#issuecomment-" in first.stderr
    (comment,) = gh.state.comments.values()
    assert comment["issue"] == 2 and comment["body"].startswith("<!-- mlops-report -->\n")
    assert "### `digits-cnn` · candidate `20250102-aaaaaaaa`" in comment["body"]
    assert comment["body"].strip() in (tmp_path / "summary.md").read_text()

    again = mlops(*args, env=env)  # the same content: no write at all
    assert again.returncode == 0 and "unchanged comment on #2" in again.stderr
    assert len(gh.calls("issues/create-comment")) == 1 and gh.calls("issues/update-comment") == []

    write_verdict(verdicts, "dev", 0.5)  # a new push changes the verdict: the same comment is updated
    third = mlops(*args, env=env)
    assert third.returncode == 0 and "updated comment on #2" in third.stderr
    assert len(gh.state.comments) == 1 and "❌ **Required gates failed**" in next(iter(gh.state.comments.values()))[
        "body"]
    assert cs.TOKEN not in first.stdout + first.stderr + third.stdout + third.stderr


def test_status_from_the_synchronize_event_head(gh: Any, tmp_path: Path, example_repo: Path) -> None:
    verdicts = tmp_path / "verdicts"
    write_verdict(verdicts, "dev", 0.5)
    env = actions_env(gh, tmp_path, EVENTS / "pull_request.synchronize.json", "pull_request")
    done = mlops("report", "--status", "--verdicts", str(verdicts), "--repo", str(example_repo), env=env)
    assert done.returncode == 0, done.stderr
    (status,) = gh.state.statuses
    synchronize = json.loads((EVENTS / "pull_request.synchronize.json").read_text())
    assert status == {"sha": synchronize["pull_request"]["head"]["sha"], "state": "failure",
                      "context": "mlops/gates", "description": "digits-cnn@20250102-aaaaaaaa failed dev: min-accuracy",
                      "target_url": "https://github.com/Codertocat/Hello-World/actions/runs/42"}


def test_status_success_with_no_verdicts_and_an_explicit_sha(gh: Any, tmp_path: Path, example_repo: Path) -> None:
    (tmp_path / "verdicts").mkdir()
    env = actions_env(gh, tmp_path, EVENTS / "workflow_dispatch.json", "workflow_dispatch")
    done = mlops("report", "--status", "--sha", HEAD_SHA, "--verdicts", str(tmp_path / "verdicts"),
                 "--repo", str(example_repo), env=env)
    assert done.returncode == 0, done.stderr
    assert [(s["sha"], s["state"]) for s in gh.state.statuses] == [(HEAD_SHA, "success")]


def test_workflow_dispatch_input_names_the_pull_request(gh: Any, tmp_path: Path, example_repo: Path) -> None:
    event = derived_event(tmp_path, "workflow_dispatch.json", {"inputs": {"pr": "7", "sha": HEAD_SHA}})
    done = mlops("report", "--repo", str(example_repo), env=actions_env(gh, tmp_path, event, "workflow_dispatch"))
    assert done.returncode == 0, done.stderr
    assert [c["issue"] for c in gh.state.comments.values()] == [7]
    assert "No model changed in this pull request" in next(iter(gh.state.comments.values()))["body"]


def test_push_event_finds_the_open_pull_request_of_its_branch(gh: Any, tmp_path: Path, example_repo: Path) -> None:
    gh.add_pull(5, "master", "main")
    done = mlops("report", "--repo", str(example_repo), env=actions_env(gh, tmp_path, EVENTS / "push.json", "push"))
    assert done.returncode == 0, done.stderr
    assert gh.calls("pulls/list")[0].query["head"] == "Codertocat:master"
    assert [c["issue"] for c in gh.state.comments.values()] == [5]


def test_push_without_an_open_pull_request_prints_only(gh: Any, tmp_path: Path, example_repo: Path) -> None:
    done = mlops("report", "--repo", str(example_repo), env=actions_env(gh, tmp_path, EVENTS / "push.json", "push"))
    assert done.returncode == 0 and "not posted (no open pull request from branch 'master')" in done.stderr
    assert done.stdout.startswith("<!-- mlops-report -->") and gh.state.comments == {}


def test_fork_notice_is_posted_once(gh: Any, tmp_path: Path, example_repo: Path) -> None:
    event = derived_event(tmp_path, "pull_request.opened.json",
                          {"pull_request.head.repo.full_name": "someone/Hello-World"})
    env = actions_env(gh, tmp_path, event, "pull_request")
    for _ in range(2):
        done = mlops("report", "--fork-notice", "--repo", str(example_repo), env=env)
        assert done.returncode == 0, done.stderr
    (comment,) = gh.state.comments.values()
    assert comment["body"].startswith("<!-- mlops-fork-notice -->") and "gh workflow run pr.yml -f pr=2" in comment[
        "body"]
    assert len(gh.calls("issues/create-comment")) == 1


def test_fork_notice_with_a_read_only_token_warns_instead_of_failing(gh: Any, tmp_path: Path,
                                                                     example_repo: Path) -> None:
    gh.fail(403, message="Resource not accessible by integration")
    env = actions_env(gh, tmp_path, EVENTS / "pull_request.opened.json", "pull_request")
    done = mlops("report", "--fork-notice", "--pr", "2", "--repo", str(example_repo), env=env)
    assert done.returncode == 0, done.stderr
    assert "::warning title=mlops fork notice::pull request #2 comes from a fork" in done.stdout
    assert "workflow_dispatch" in (tmp_path / "summary.md").read_text()


def test_a_forge_failure_is_one_line_and_exit_1(gh: Any, tmp_path: Path, example_repo: Path) -> None:
    gh.fail(500, times=10)
    env = {**actions_env(gh, tmp_path, EVENTS / "pull_request.opened.json", "pull_request"), "GITHUB_ACTIONS": ""}
    done = mlops("report", "--pr", "2", "--repo", str(example_repo), env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "forge:1:1: GET /repos/Codertocat/Hello-World/issues/2/comments: HTTP 500 Server Error after 5 attempts" \
        in done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("--pr", "abc"), "--pr 'abc': expected a pull request number"),
    (("--status", "--sha", HEAD_SHA), "--status needs --verdicts DIR"),
    (("--status", "--fork-notice"), "not allowed with argument"),
])
def test_usage_errors_exit_2(gh: Any, tmp_path: Path, example_repo: Path, args: tuple[str, ...],
                             message: str) -> None:
    done = mlops("report", *args, "--repo", str(example_repo), env={})
    assert done.returncode == 2 and message in done.stderr
