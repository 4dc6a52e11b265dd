"""The Forge seam: the few things the framework asks of a code forge (GitHub, or a local one).

Pull request comments (found again by a hidden marker, so a report is updated in place — and only a
comment the framework's own identity wrote), commit statuses, labels, pull requests (open or update,
merge, reviews), commits the bot makes through the forge (which the forge attests: GitHub signs a
commit an App creates through its API), issues for incidents, and deployments. Every write is
idempotent: running the same command twice leaves the forge as one run does.

``forge_from_env`` picks the implementation: the GitHub REST client when ``GITHUB_TOKEN`` and
``GITHUB_REPOSITORY`` are set, else the local forge that keeps pull requests as files beside a
local git remote (the demo's forge).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from mlops.core.errors import Problem, UserError

IDENTITY_ENV = "MLOPS_BOT_LOGIN"  # the login the token writes as (default: github-actions[bot])
StatusState = Literal["success", "failure", "pending", "error"]
MAX_DESCRIPTION = 140  # GitHub truncates commit status descriptions beyond this


class ForgeError(UserError):
    """The forge refused or failed a request (after retries); the message says which and why."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(Problem("forge", 1, 1, message))
        self.status = status  # the HTTP status, when the forge answered


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    url: str = ""


@dataclass(frozen=True)
class PullRequest:
    number: int
    head: str
    base: str
    title: str
    url: str = ""
    state: str = "open"  # open | closed
    body: str = ""
    head_sha: str = ""
    merged: bool = False
    merge_sha: str | None = None
    labels: tuple[str, ...] = ()
    author: str = ""
    base_sha: str = ""
    from_fork: bool = False


@dataclass(frozen=True)
class Review:
    user: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED
    commit: str
    submitted: str = ""


@dataclass(frozen=True)
class Deployment:
    """A deployment the forge recorded: which commit went to which environment, when, and how it ended."""

    id: int
    ref: str  # the commit deployed
    environment: str
    created: str
    state: str  # the latest status: success, failure, in_progress, … ("" when none was set)
    description: str = ""


@dataclass(frozen=True)
class Issue:
    number: int
    title: str
    body: str
    state: str = "open"
    labels: tuple[str, ...] = ()
    url: str = ""


class Forge(Protocol):
    """What the framework needs from a code forge. Implementations: GitHub REST, local files."""

    identity: str  # the login the framework writes as (its comments, commits, pull requests)

    def find_comment(self, pr: int, marker: str) -> Comment | None:
        """The first comment on ``pr`` that starts with ``marker`` and that :attr:`identity` wrote.

        A comment anyone else wrote is never returned, so nobody can plant a marker to have the
        framework overwrite their text (or hide the real report under theirs).
        """
        ...

    def create_comment(self, pr: int, body: str) -> Comment: ...

    def update_comment(self, comment_id: int, body: str) -> Comment: ...

    def set_status(self, sha: str, state: StatusState, context: str, description: str,
                   target_url: str | None = None) -> None: ...

    def add_labels(self, pr: int, labels: Sequence[str]) -> None: ...

    def find_open_pr(self, head: str, base: str | None = None) -> PullRequest | None:
        """The open pull request from branch ``head`` (into ``base`` when given), if any."""
        ...

    def open_pr(self, head: str, base: str, title: str, body: str) -> PullRequest:
        """Open a pull request from ``head`` into ``base``, or return the one already open."""
        ...

    def get_pr(self, number: int) -> PullRequest: ...

    def update_pr(self, number: int, *, title: str | None = None, body: str | None = None,
                  state: str | None = None) -> PullRequest: ...

    def merge_pr(self, number: int, sha: str, message: str) -> str:
        """Merge ``number`` if its head is still ``sha``; returns the merge commit."""
        ...

    def reviews(self, number: int) -> list[Review]: ...

    def prs_for_commit(self, sha: str) -> list[PullRequest]:
        """Pull requests that contain ``sha`` (merged or open)."""
        ...

    def status(self, sha: str, context: str) -> tuple[str, str] | None:
        """The latest commit status ``context`` of ``sha``: (state, description); None when none was set."""
        ...

    def team_members(self, team: str) -> set[str] | None:
        """The logins of ``@org/team``'s members; None when the forge cannot tell (no such team, no permission)."""
        ...

    def commit_files(self, branch: str, files: Mapping[str, bytes | None], message: str, *, parent: str,
                     reset: bool = False) -> str:
        """Commit ``files`` (None deletes) on ``branch`` as :attr:`identity`, on top of ``parent``.

        The branch is created at ``parent`` when missing; when it exists, its tip must be ``parent`` (a branch
        that moved on is an error, never overwritten) — unless ``reset``: a bot branch no open pull request uses
        (a merged promotion's) starts again from ``parent``. Returns the new commit, which the forge attests
        (:meth:`is_bot_commit`).
        """
        ...

    def is_bot_commit(self, sha: str) -> bool:
        """Whether ``sha`` is a commit the forge attests :attr:`identity` made (not a name anyone can type)."""
        ...

    def branch_tip(self, branch: str) -> str | None:
        """The commit ``branch`` points at on the forge; None when there is no such branch."""
        ...

    def read_file(self, ref: str, path: str) -> bytes | None:
        """``path`` (from the repository's top) at ``ref`` (a commit or branch) on the forge; None when absent."""
        ...

    def find_issue(self, marker: str, label: str) -> Issue | None:
        """The open issue labelled ``label`` whose body contains ``marker`` and that :attr:`identity` opened."""
        ...

    def open_issue(self, title: str, body: str, labels: Sequence[str]) -> Issue: ...

    def update_issue(self, number: int, *, body: str | None = None, state: str | None = None) -> Issue: ...

    def create_deployment(self, ref: str, environment: str, description: str) -> int: ...

    def set_deployment_status(self, deployment: int, state: str, description: str,
                              url: str | None = None) -> None: ...

    def deployments(self, environment: str, limit: int = 20) -> list[Deployment]:
        """The newest ``limit`` deployments to ``environment``, newest first, each with its latest status."""
        ...

    def close(self) -> None:
        """Release connections; the forge is not used afterwards."""
        ...


Upsert = Literal["created", "updated", "unchanged"]


def upsert_comment(forge: Forge, pr: int, marker: str, body: str) -> tuple[Comment, Upsert]:
    """Create the comment that starts with ``marker``, or update it in place; no write when unchanged."""
    if not body.startswith(marker):
        body = f"{marker}\n{body}"
    existing = forge.find_comment(pr, marker)
    if existing is None:
        return forge.create_comment(pr, body), "created"
    if existing.body.rstrip() == body.rstrip():
        return existing, "unchanged"
    return forge.update_comment(existing.id, body), "updated"


def short_description(text: str) -> str:
    """One line of at most 140 characters, as a commit status description must be."""
    line = " ".join(text.split())
    return line if len(line) <= MAX_DESCRIPTION else line[: MAX_DESCRIPTION - 1] + "…"


def forge_from_env(root: Path, env: Mapping[str, str] | None = None) -> Forge:
    """GitHub when a token and repository are in the environment, else the local forge under ``root``."""
    env = os.environ if env is None else env
    token, repository = env.get("GITHUB_TOKEN", ""), env.get("GITHUB_REPOSITORY", "")
    if token and repository:
        from mlops.adapters.forge.github import GitHubForge
        from mlops.adapters.forge.github_http import DEFAULT_IDENTITY

        return GitHubForge(repository, token, env.get("GITHUB_API_URL") or "https://api.github.com",
                           identity=env.get(IDENTITY_ENV) or DEFAULT_IDENTITY)
    from mlops.adapters.forge.local import LocalForge

    return LocalForge(root)


@dataclass(frozen=True)
class Event:
    """What the framework reads from the workflow's event payload (``GITHUB_EVENT_PATH``)."""

    name: str
    pr: int | None = None
    branch: str | None = None
    head_sha: str | None = None
    from_fork: bool = False
    base_sha: str | None = None  # the pull request's base commit
    head_owner: str | None = None  # the owner of the head's repository (a fork's)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def read_event(env: Mapping[str, str] | None = None) -> Event | None:
    """The triggering event: pull_request(_target), workflow_dispatch (input ``pr``) or push; None outside Actions."""
    env = os.environ if env is None else env
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        payload = json.loads(Path(path).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(Problem(path, 1, 1, f"cannot read the event payload: {exc}; expected the JSON file "
                                            "GitHub Actions writes to GITHUB_EVENT_PATH")) from exc
    if not isinstance(payload, dict):
        raise UserError(Problem(path, 1, 1, "the event payload is not a JSON object"))
    name = env.get("GITHUB_EVENT_NAME", "")
    pull = payload.get("pull_request")
    if isinstance(pull, dict):
        head, base = _dict(pull.get("head")), _dict(pull.get("base"))
        head_repo, base_repo = _dict(head.get("repo")).get("full_name"), _dict(base.get("repo")).get("full_name")
        return Event(name or "pull_request", _int(pull.get("number")) or _int(payload.get("number")),
                     head.get("ref"), head.get("sha"), bool(head_repo and base_repo and head_repo != base_repo),
                     base.get("sha"))
    run = payload.get("workflow_run")
    if isinstance(run, dict):  # the PR run finished: this run's definition is the default branch's
        head_repo, repo = _dict(run.get("head_repository")), _dict(payload.get("repository"))
        pulls = [p for p in run.get("pull_requests") or [] if isinstance(p, dict)]
        fork = bool(head_repo.get("full_name")) and head_repo.get("full_name") != repo.get("full_name")
        return Event(name or "workflow_run", _int(pulls[0].get("number")) if pulls and not fork else None,
                     run.get("head_branch"), run.get("head_sha"), fork, None,
                     _dict(head_repo.get("owner")).get("login"))
    inputs = payload.get("inputs")
    if isinstance(inputs, dict) or name == "workflow_dispatch":
        inputs = inputs if isinstance(inputs, dict) else {}
        pr = next((_int(inputs[k]) for k in ("pr", "pull_request", "pr_number") if k in inputs), None)
        ref = payload.get("ref")
        branch = ref.removeprefix("refs/heads/") if isinstance(ref, str) else None
        return Event(name or "workflow_dispatch", pr, branch, env.get("GITHUB_SHA"))
    ref = payload.get("ref")
    if isinstance(ref, str) and ref.startswith("refs/heads/"):
        return Event(name or "push", None, ref.removeprefix("refs/heads/"), payload.get("after"))
    return Event(name or "unknown", _int(payload.get("number")))


def settings_from_env(repository: str, token: str, env: Mapping[str, str] | None = None, *,
                      app_id: str | None = None, app_private_key: str | None = None) -> Any:
    """The read-only reader of a GitHub repository's settings (``mlops doctor``), a ``SettingsSource``."""
    from mlops.adapters.forge.settings import GitHubSettings

    env = os.environ if env is None else env
    return GitHubSettings(repository, token, env.get("GITHUB_API_URL") or "https://api.github.com",
                          app_id=app_id, app_private_key=app_private_key)

