"""An in-memory SettingsSource: answers are plain data, failures are ForgeErrors with an HTTP status.

``FakeSettings.good()`` is a repository where every check passes; tests change one answer at a time.
An answer that is an exception instance is raised instead of returned.
"""

from __future__ import annotations

import copy
from typing import Any

from mlops.adapters.forge import ForgeError

REPO = "octo-org/models"
GOOD_CODEOWNERS = """# owners
* @octo-org/platform
/environments/ @octo-org/approvers   # promotions
/models/*/versions/ @octo-org/ml-owners
/.github/ @octo-org/platform
/mlops/ @octo-org/platform
"""
PR_WORKFLOW = """on: pull_request
jobs:
  validate:
    runs-on: ubuntu-latest
    steps: [{run: echo}]
"""
TRAIN_WORKFLOW = """on: {workflow_run: {workflows: [pr], types: [completed]}}
jobs:
  train:
    runs-on: [self-hosted, gpu]
    steps: [{run: echo}]
"""


def refused(status: int, message: str = "Resource not accessible by integration") -> ForgeError:
    return ForgeError(f"GET /x: HTTP {status} {message}", status)


class FakeSettings:
    def __init__(self, answers: dict[str, Any], *, has_app_key: bool = False) -> None:
        self.repository = REPO
        self.answers = answers
        self.has_app_key = has_app_key
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    @classmethod
    def good(cls, **changes: Any) -> FakeSettings:
        answers: dict[str, Any] = {
            "repo": {"default_branch": "main", "private": False,
                     "owner": {"login": "octo-org", "type": "Organization"}},
            "fork_pr_approval": {"approval_policy": "all_external_contributors"},
            "branch_rules": [
                {"type": "required_status_checks", "ruleset_source": "protect main",
                 "parameters": {"required_status_checks": [{"context": "mlops/gates"}],
                                "strict_required_status_checks_policy": True}},
                {"type": "pull_request", "ruleset_source": "protect main",
                 "parameters": {"required_approving_review_count": 1, "require_code_owner_review": True}},
            ],
            "files": {".github/CODEOWNERS": GOOD_CODEOWNERS, ".github/workflows/pr.yml": PR_WORKFLOW,
                      ".github/workflows/train.yml": TRAIN_WORKFLOW},
            "workflows": [{"path": ".github/workflows/pr.yml", "state": "active"},
                          {"path": ".github/workflows/train.yml", "state": "active"}],
            "codeowners_errors": [],
            "environment": {"name": "mlops-bot",
                            "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True}},
            "deployment_branch_policies": [{"name": "main", "type": "branch"}],
            "repo_runners": [],
            "runner_groups": [{"id": 2, "name": "gpu", "restricted_to_workflows": True,
                               "allows_public_repositories": False,
                               "selected_workflows": [f"{REPO}/.github/workflows/train.yml@main",
                                                      "octo-org/other/.github/workflows/x.yml@dev"]},
                              {"id": 1, "name": "Default", "restricted_to_workflows": False}],
            "group_runners": {1: [], 2: [{"name": "gpu-1"}]},
            "app_installation": {"app_slug": "mlops-bot", "app_id": 7, "client_id": "Iv23abc",
                                 "repository_selection": "selected", "suspended_at": None,
                                 "permissions": {"contents": "write", "pull_requests": "write", "statuses": "write",
                                                 "issues": "write", "metadata": "read", "checks": "write"}},
            "org_installations": [],
        }
        answers.update(copy.deepcopy(changes))
        return cls(answers)

    def _answer(self, name: str, *args: Any) -> Any:
        self.calls.append((name, args))
        value = self.answers[name]
        if isinstance(value, Exception):
            raise value
        return copy.deepcopy(value)

    def repo(self) -> dict[str, Any]:
        return self._answer("repo")

    def fork_pr_approval(self) -> dict[str, Any]:
        return self._answer("fork_pr_approval")

    def branch_rules(self, branch: str) -> list[dict[str, Any]]:
        return self._answer("branch_rules", branch)

    def file_text(self, path: str, ref: str) -> str:
        self.calls.append(("file_text", (path, ref)))
        files = self.answers["files"]
        if isinstance(files, Exception):
            raise files
        value = files.get(path)
        if value is None:
            raise refused(404, "Not Found")
        if isinstance(value, Exception):
            raise value
        return str(value)

    def workflows(self) -> list[dict[str, Any]]:
        return self._answer("workflows")

    def codeowners_errors(self, ref: str) -> list[dict[str, Any]]:
        return self._answer("codeowners_errors", ref)

    def environment(self, name: str) -> dict[str, Any]:
        return self._answer("environment", name)

    def deployment_branch_policies(self, name: str) -> list[dict[str, Any]]:
        return self._answer("deployment_branch_policies", name)

    def repo_runners(self) -> list[dict[str, Any]]:
        return self._answer("repo_runners")

    def runner_groups(self, org: str) -> list[dict[str, Any]]:
        return self._answer("runner_groups", org)

    def group_runners(self, org: str, group_id: int) -> list[dict[str, Any]]:
        self.calls.append(("group_runners", (org, group_id)))
        value = self.answers["group_runners"]
        if isinstance(value, Exception):
            raise value
        return list(value.get(group_id, []))

    def app_installation(self) -> dict[str, Any]:
        return self._answer("app_installation")

    def org_installations(self, org: str) -> list[dict[str, Any]]:
        return self._answer("org_installations", org)

    def close(self) -> None:
        self.calls.append(("close", ()))
