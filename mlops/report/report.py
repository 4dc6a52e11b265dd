"""Publish the report: the PR comment (updated in place), the ``mlops/gates`` commit status, the fork notice.

:func:`publish` is the whole of ``mlops report``: it reads the event, decides the base revision and the
pull request, and runs one of the three modes; the CLI only parses arguments and prints.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mlops.adapters.forge import Forge, ForgeError, StatusState, read_event, short_description, upsert_comment
from mlops.adapters.scm import Scm, try_open_scm
from mlops.core.atomic import write_text
from mlops.core.errors import UsageError
from mlops.core.policy import Verdict
from mlops.core.repo import Repository, load_repository
from mlops.report.collect import collect, read_verdicts, required, resolve_base
from mlops.report.markdown import MARKER, render

Mode = Literal["comment", "status", "fork-notice"]

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


def find_target(scm: Scm | None, forge: Forge, pr: int | None, env: Mapping[str, str] | None = None) -> Target:
    """``--pr``, else the event's pull request, else the open pull request of the event's or current branch."""
    env = os.environ if env is None else env
    if pr is not None:
        return Target(pr)
    event = read_event(env)
    if event is not None and event.pr is not None:
        return Target(event.pr)
    branch = event.branch if event is not None else None
    if branch is None and scm is not None:
        branch = scm.branch()
    if branch is None:
        return Target(None, "no pull request: no --pr, no pull request in the event, and no branch checked out")
    found = forge.find_open_pr(branch)
    if found is None:
        return Target(None, f"no open pull request from branch {branch!r}")
    return Target(found.number)


def head_sha(scm: Scm | None, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    event = read_event(env)
    if event is not None and event.head_sha:
        return event.head_sha
    return (scm.head() if scm is not None else None) or ""


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


@dataclass(frozen=True)
class ReportRequest:
    """``mlops report``'s arguments."""

    root: Path
    mode: Mode = "comment"
    verdicts: Path | None = None
    pr: str | None = None
    out: Path | None = None
    base: str | None = None
    sha: str | None = None
    workflow: str = "pr.yml"
    failure: str | None = None  # status mode: an earlier job failed; the status says which


@dataclass(frozen=True)
class Published:
    """What ``mlops report`` did: the markdown (comment mode), and one line per action for the log."""

    markdown: str = ""
    lines: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def _valid_repo(root: Path) -> Repository:
    repo = load_repository(root)
    repo.require_valid()
    return repo


def _verdicts(request: ReportRequest) -> dict[tuple[str, str], Verdict]:
    return read_verdicts(request.verdicts) if request.verdicts is not None else {}


def publish(request: ReportRequest, forge: Forge, env: Mapping[str, str] | None = None) -> Published:
    """Run one mode of ``mlops report`` against ``forge``."""
    env = os.environ if env is None else env
    scm = try_open_scm(request.root)
    if request.mode == "fork-notice":
        return _fork_notice(request, forge, scm, env)
    if request.mode == "status":
        return _status(request, forge, env)
    return _comment(request, forge, scm, env)


def _comment(request: ReportRequest, forge: Forge, scm: Scm | None, env: Mapping[str, str]) -> Published:
    pr = parse_pr(request.pr)
    repo = _valid_repo(request.root)
    event = read_event(env)
    base = resolve_base(scm, request.base, env, event.base_sha if event else None)
    markdown = render(collect(repo, _verdicts(request), base, head_sha(scm, env), scm))
    out = request.out
    if out is not None and not (out.is_file() and out.read_text("utf-8") == markdown):
        write_text(out, markdown)
    target = find_target(scm, forge, pr, env)
    if target.pr is None:
        return Published(markdown, (f"not posted ({target.why})",))
    return Published(markdown, (post_comment(forge, target.pr, MARKER, markdown),))


def _status(request: ReportRequest, forge: Forge, env: Mapping[str, str]) -> Published:
    if request.verdicts is None and not request.failure:
        raise UsageError("--status needs --verdicts DIR (the verdicts of `mlops evaluate`) or --failure REASON")
    event = read_event(env)
    sha = request.sha or (event.head_sha if event else None)
    if not sha:
        raise UsageError("--status needs --sha SHA (or a pull request event)")
    state: StatusState = "failure"
    if request.failure:
        description = short_description(request.failure)
    else:
        state, description = gate_status(_valid_repo(request.root), _verdicts(request))
        if state == "success":
            state, description = _guarded(request, forge, env, sha, description)
    forge.set_status(sha, state, STATUS_CONTEXT, description, run_url(env))
    return Published("", (f"{STATUS_CONTEXT} = {state} on {sha[:12]}: {description}",))


def _guarded(request: ReportRequest, forge: Forge, env: Mapping[str, str], sha: str,
             description: str) -> tuple[StatusState, str]:
    """Passing gates are not enough when the pull request loosens a rule: pending until governance approves."""
    from mlops.gitops.guard import governance_approval, loosened_since

    scm = try_open_scm(request.root)
    event = read_event(env)
    base = resolve_base(scm, request.base, env, event.base_sha if event else None)
    loosened = loosened_since(request.root, base) if base else []
    if not loosened:
        return "success", description
    target = find_target(scm, forge, parse_pr(request.pr), env)
    approval = governance_approval(request.root, forge, target.pr, sha)
    if not approval.approved:
        return "pending", short_description(f"loosens {len(loosened)} rule(s): {approval.reason}")
    return "success", short_description(f"{description}; loosening {approval.reason}")


def _fork_notice(request: ReportRequest, forge: Forge, scm: Scm | None, env: Mapping[str, str]) -> Published:
    target = find_target(scm, forge, parse_pr(request.pr), env)
    if target.pr is None:
        raise UsageError(f"--fork-notice needs --pr N ({target.why})")
    body = fork_notice(target.pr, request.workflow)
    try:
        return Published(body, (post_comment(forge, target.pr, FORK_MARKER, body),))
    except ForgeError as exc:
        if not permission_denied(exc):
            raise
        # a fork's pull_request run has a read-only token: say it in the run instead of failing it
        return Published(body, (), (f"pull request #{target.pr} comes from a fork: a maintainer must start "
                                    f"training with workflow_dispatch of {request.workflow} (the comment could "
                                    f"not be posted: {exc.problems[0].message})",))

