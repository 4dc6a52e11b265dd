"""The Forge seam: the few things the framework asks of a code forge (GitHub, or a local one).

Pull request comments (found again by a hidden marker, so a report is updated in place), commit
statuses, labels, and finding or opening pull requests. Every write is idempotent: running the
same command twice leaves the forge as one run does.

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
    state: str = "open"


class Forge(Protocol):
    """What the framework needs from a code forge. Implementations: GitHub REST, local files."""

    def find_comment(self, pr: int, marker: str) -> Comment | None:
        """The first comment on ``pr`` whose body starts with ``marker``."""
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

        return GitHubForge(repository, token, env.get("GITHUB_API_URL") or "https://api.github.com")
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
