"""Where the report goes (--pr, the event, the branch's open PR), and the fork notice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.adapters.forge.local import LocalForge
from mlops.adapters.scm import open_scm
from mlops.core.errors import UsageError
from mlops.report.report import FORK_MARKER, find_target, fork_notice, parse_pr, run_url
from tests.helpers.git import git, init_repo

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "github" / "events"


@pytest.fixture
def branch_repo(tmp_path: Path) -> Path:
    init_repo(tmp_path, "init")
    git(tmp_path, "checkout", "--quiet", "-b", "proposal")
    return tmp_path


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("", None), ("  ", None), ("12", 12)])
def test_parse_pr(value: str | None, expected: int | None) -> None:
    assert parse_pr(value) == expected


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5"])
def test_parse_pr_refuses_non_numbers(value: str) -> None:
    with pytest.raises(UsageError, match="expected a pull request number"):
        parse_pr(value)


def test_target_from_flag_then_event_then_branch(branch_repo: Path) -> None:
    forge = LocalForge(branch_repo)
    assert find_target(open_scm(branch_repo), forge, 9, {}).pr == 9
    event = {"GITHUB_EVENT_PATH": str(EVENTS / "pull_request.opened.json"), "GITHUB_EVENT_NAME": "pull_request"}
    assert find_target(open_scm(branch_repo), forge, None, event).pr == 2
    missing = find_target(open_scm(branch_repo), forge, None, {})
    assert missing.pr is None and missing.why == "no open pull request from branch 'proposal'"
    opened = forge.open_pr("proposal", "main", "t", "b")
    assert find_target(open_scm(branch_repo), forge, None, {}).pr == opened.number


def test_no_branch_checked_out_means_print_only(branch_repo: Path) -> None:
    git(branch_repo, "checkout", "--quiet", "--detach")
    target = find_target(open_scm(branch_repo), LocalForge(branch_repo), None, {})
    assert target.pr is None and "no branch checked out" in target.why


def test_fork_notice_names_the_workflow_and_inputs() -> None:
    text = fork_notice(17, "pr.yml")
    assert text.startswith(FORK_MARKER + "\n") and "workflow_dispatch" in text
    assert "gh workflow run pr.yml -f pr=17 -f sha=<the reviewed head commit>" in text


def test_run_url_needs_all_three_variables() -> None:
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "7"}
    assert run_url(env) == "https://github.com/o/r/actions/runs/7"
    assert run_url({**env, "GITHUB_RUN_ID": ""}) is None


def test_the_event_payload_is_real() -> None:
    payload = json.loads((EVENTS / "pull_request.opened.json").read_text())
    assert payload["action"] == "opened" and payload["pull_request"]["number"] == 2
