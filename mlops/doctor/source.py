"""Where the doctor's data comes from (a Protocol; the real one reads GitHub's REST API) and what it checks against.

Every read returns parsed JSON and raises :class:`~mlops.adapters.forge.ForgeError` (with the HTTP
status when GitHub answered) when it cannot; the checks turn a 403 or 404 into a finding, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from mlops.doctor.findings import Malformed

DEFAULT_ENVIRONMENT = "mlops-bot"
DEFAULT_STATUS = "mlops/gates"
WORKFLOWS_DIR = ".github/workflows/"


class SettingsSource(Protocol):
    """The repository and organisation settings ``mlops doctor`` reads. Real: ``GitHubSettings``."""

    repository: str

    @property
    def has_app_key(self) -> bool:
        """Whether a GitHub App id and private key were given (to read the App's own installation)."""
        ...

    def repo(self) -> dict[str, Any]: ...

    def fork_pr_approval(self) -> dict[str, Any]: ...

    def branch_rules(self, branch: str) -> list[dict[str, Any]]: ...

    def file_text(self, path: str, ref: str) -> str: ...

    def workflows(self) -> list[dict[str, Any]]: ...

    def codeowners_errors(self, ref: str) -> list[dict[str, Any]]: ...

    def environment(self, name: str) -> dict[str, Any]: ...

    def deployment_branch_policies(self, name: str) -> list[dict[str, Any]]: ...

    def repo_runners(self) -> list[dict[str, Any]]: ...

    def runner_groups(self, org: str) -> list[dict[str, Any]]: ...

    def group_runners(self, org: str, group_id: int) -> list[dict[str, Any]]: ...

    def app_installation(self) -> dict[str, Any]: ...

    def org_installations(self, org: str) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class DoctorOptions:
    environment: str = DEFAULT_ENVIRONMENT  # the GitHub environment that holds the App's private key
    status: str = DEFAULT_STATUS  # the commit status the ruleset must require
    workflows: tuple[str, ...] | None = None  # workflow files allowed on the GPU runners (None: discover)
    app_id: str | None = None  # the App's client id or numeric id (to find its installation)


@dataclass(frozen=True)
class Context:
    """What every check knows about the repository (from ``repos/get``) and the options."""

    repository: str
    default_branch: str
    org: str | None  # the owning organisation; None for a user-owned repository
    private: bool
    options: DoctorOptions

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.repository.split("/", 1)[1]


def context_from(repository: str, repo: dict[str, Any], options: DoctorOptions) -> Context:
    """The context from a ``repos/get`` answer; :class:`Malformed` when it lacks what every check needs."""
    branch = repo.get("default_branch")
    owner = repo.get("owner")
    if not isinstance(branch, str) or not branch or not isinstance(owner, dict):
        raise Malformed("the repository answer has no default_branch or owner")
    org = owner.get("login") if owner.get("type") == "Organization" else None
    return Context(repository, branch, org if isinstance(org, str) else None, repo.get("private") is True, options)


def text(value: object) -> str:
    """A string field of an answer, or '' when absent or not a string."""
    return value if isinstance(value, str) else ""


def dicts(value: object, what: str) -> list[dict[str, Any]]:
    """A list of JSON objects; :class:`Malformed` when ``value`` is not a list (non-objects are dropped)."""
    if not isinstance(value, list):
        raise Malformed(f"{what}: expected a list, got {type(value).__name__}")
    return [item for item in value if isinstance(item, dict)]
