"""Publish the report: the PR comment (updated in place), the ``mlops/gates`` commit status, the fork notice."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlops.adapters.forge import Forge, ForgeError, StatusState, read_event, short_description, upsert_comment
from mlops.core.errors import UsageError
from mlops.core.policy import Verdict
from mlops.core.repo import Repository
from mlops.report.collect import git, required

STATUS_CONTEXT = "mlops/gates"
FORK_MARKER = "<!-- mlops-fork-notice -->"


@dataclass(frozen=True)
class Target:
    """Where the comment goes: a pull request number, or nowhere (print only) with the reason."""

    pr: int | None
    why: str = ""


def parse_pr(value: str | None) -> int | None:
    """``--pr``: a positive number; '' (an empty workflow input) means not given."""
    if value is None or not value.strip():
        return None
    if not value.strip().isdigit() or int(value) <= 0:
        raise UsageError(f"--pr {value!r}: expected a pull request number")
    return int(value)


def find_target(root: Path, forge: Forge, pr: int | None, env: Mapping[str, str] | None = None) -> Target:
    """``--pr``, else the event's pull request, else the open pull request of the event's or current branch."""
    env = os.environ if env is None else env
    if pr is not None:
        return Target(pr)
    event = read_event(env)
    if event is not None and event.pr is not None:
        return Target(event.pr)
    branch = event.branch if event is not None else None
    if branch is None:
        name = (git(root, "rev-parse", "--abbrev-ref", "HEAD") or "").strip()
        branch = name if name and name != "HEAD" else None
    if branch is None:
        return Target(None, "no pull request: no --pr, no pull request in the event, and no branch checked out")
    found = forge.find_open_pr(branch)
    if found is None:
        return Target(None, f"no open pull request from branch {branch!r}")
    return Target(found.number)


def head_sha(root: Path, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    event = read_event(env)
    if event is not None and event.head_sha:
        return event.head_sha
    return (git(root, "rev-parse", "HEAD") or "").strip()


def post_comment(forge: Forge, pr: int, marker: str, body: str) -> str:
    comment, action = upsert_comment(forge, pr, marker, body)
    return f"{action} comment on #{pr}" + (f": {comment.url}" if comment.url else "")


def gate_status(repo: Repository, verdicts: Mapping[tuple[str, str], Verdict]) -> tuple[StatusState, str]:
    """success when every required verdict passed (see :func:`mlops.report.collect.required`), else failure."""
    if not verdicts:
        return "success", "no model candidates to gate in this pull request"
    failed, passed, later = [], [], []
    for (model, env), verdict in sorted(verdicts.items()):
        must = model in repo.models and env in repo.environments and \
            required(repo, model, env, verdict.candidate.version)
        if verdict.passed:
            passed.append(verdict)
        elif must:
            failed.append(f"{model}@{verdict.candidate.version} failed {env}: "
                          + ", ".join(g.name for g in verdict.failed))
        else:
            later.append(f"{model} to {env}")
    if failed:
        return "failure", short_description("; ".join(failed))
    text = f"required gates passed ({len(passed)} of {len(verdicts)} verdicts pass)"
    if later:
        text += "; not yet promotable: " + ", ".join(later)
    return "success", short_description(text)


def run_url(env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    server, repository, run = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
    return f"{server}/{repository}/actions/runs/{run}" if server and repository and run else None


def fork_notice(pr: int, workflow: str = "pr.yml") -> str:
    return "\n".join([
        FORK_MARKER,
        "## mlops: training waits for a maintainer",
        "",
        "This pull request comes from a fork. Training runs on self-hosted GPU runners, which never run code from a "
        "fork on their own: the models it changes are not trained or evaluated yet, and the required "
        f"`{STATUS_CONTEXT}` status is not set.",
        "",
        f"A maintainer who has reviewed the changes starts training with workflow_dispatch (Actions → `{workflow}` → "
        "Run workflow) "
        f"with pull request `{pr}` and the head commit they reviewed, or from a terminal:",
        "",
        "```sh",
        f"gh workflow run {workflow} -f pr={pr} -f sha=<the reviewed head commit>",
        "```",
        "",
        "The run trains, evaluates and reports on exactly that commit; the report is a comment of its own.",
        "",
    ])


def permission_denied(exc: ForgeError) -> bool:
    return exc.status in (401, 403, 404)
