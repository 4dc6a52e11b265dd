"""Read (never write) the GitHub settings the framework's trust model relies on, over the REST API (httpx).

Repository settings (fork pull request approval, the rules on a branch, environments and their
deployment branch policies, files at a ref, workflows, repository-level runners), organisation runner
groups, and the GitHub App installation. Answers are returned as parsed JSON; judging them is
:mod:`mlops.doctor`'s job. Every failure is a :class:`~mlops.adapters.forge.ForgeError` carrying the
HTTP status, so a 403 or 404 can be told from a broken answer.

Same conventions as :mod:`mlops.adapters.forge.github`: the token (and the App's key and JWT) never
appear in messages or reprs, ``GITHUB_API_URL`` is honoured, retries follow
:mod:`mlops.adapters.forge.retry`, and pages are followed on the API's own origin only. Only GET
requests are made.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import quote

from mlops.adapters.forge import ForgeError
from mlops.adapters.forge.github_http import GitHubHttp, json_object

# operationId → (path template, method) of every REST operation this reader uses (all reads); the contract
# tests check each request against GitHub's OpenAPI description of exactly these.
OPERATIONS: dict[str, tuple[str, str]] = {
    "repos/get": ("/repos/{owner}/{repo}", "get"),
    "actions/get-fork-pr-contributor-approval-permissions-repository":
        ("/repos/{owner}/{repo}/actions/permissions/fork-pr-contributor-approval", "get"),
    "repos/get-branch-rules": ("/repos/{owner}/{repo}/rules/branches/{branch}", "get"),
    "repos/get-content": ("/repos/{owner}/{repo}/contents/{path}", "get"),
    "repos/codeowners-errors": ("/repos/{owner}/{repo}/codeowners/errors", "get"),
    "repos/get-environment": ("/repos/{owner}/{repo}/environments/{environment_name}", "get"),
    "repos/list-deployment-branch-policies":
        ("/repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies", "get"),
    "actions/list-repo-workflows": ("/repos/{owner}/{repo}/actions/workflows", "get"),
    "actions/list-self-hosted-runners-for-repo": ("/repos/{owner}/{repo}/actions/runners", "get"),
    "actions/list-self-hosted-runner-groups-for-org": ("/orgs/{org}/actions/runner-groups", "get"),
    "actions/list-self-hosted-runners-in-group-for-org":
        ("/orgs/{org}/actions/runner-groups/{runner_group_id}/runners", "get"),
    "apps/get-repo-installation": ("/repos/{owner}/{repo}/installation", "get"),
    "orgs/list-app-installations": ("/orgs/{org}/installations", "get"),
}
JWT_LIFETIME = 540  # seconds; GitHub refuses an App JWT that expires more than 10 minutes ahead


class GitHubSettings(GitHubHttp):
    """Reads one repository's (and its organisation's) settings. Implements ``mlops.doctor.SettingsSource``."""

    failure_hint = ""  # doctor turns 403/404 into "unknown: needs …" itself

    def __init__(self, repository: str, token: str, api_url: str = "https://api.github.com", *,
                 app_id: str | None = None, app_private_key: str | None = None, **http: Any) -> None:
        super().__init__(repository, token, api_url, **http)
        self.name = repository.split("/", 1)[1]
        self._app_id, self._app_key = app_id or None, app_private_key or None

    def _list(self, url: str, key: str | None, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return _dicts(self._pages(url, params or {}, key))

    @property
    def has_app_key(self) -> bool:
        return bool(self._app_id and self._app_key)

    # -- reads (one method per operation) -----------------------------------------------------------

    def repo(self) -> dict[str, Any]:
        return json_object(self._request("GET", self._path()), "repos/get")

    def fork_pr_approval(self) -> dict[str, Any]:
        url = self._path("actions", "permissions", "fork-pr-contributor-approval")
        return json_object(self._request("GET", url), "fork PR approval")

    def branch_rules(self, branch: str) -> list[dict[str, Any]]:
        return self._list(self._path("rules", "branches", branch), None)

    def file_text(self, path: str, ref: str) -> str:
        """The text of the file at ``path`` on ``ref`` (a 404 is a ForgeError with status 404)."""
        url = self._path("contents") + "/" + quote(path.strip("/"), safe="/")  # multi-segment path
        data = json_object(self._request("GET", url, params={"ref": ref}), f"contents of {path}")
        if data.get("type") != "file":
            raise ForgeError(f"{path} at {ref} is a {data.get('type')!s}, not a file")
        if data.get("encoding") != "base64" or not isinstance(data.get("content"), str):
            raise ForgeError(f"{path} at {ref}: the API did not return its content (too large, or not base64)")
        try:
            return base64.b64decode(data["content"], validate=False).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise ForgeError(f"{path} at {ref}: the content is not base64-encoded UTF-8 text") from exc

    def workflows(self) -> list[dict[str, Any]]:
        return self._list(self._path("actions", "workflows"), "workflows")

    def codeowners_errors(self, ref: str) -> list[dict[str, Any]]:
        data = json_object(self._request("GET", self._path("codeowners", "errors"), params={"ref": ref}),
                           "CODEOWNERS errors")
        errors = data.get("errors")
        if not isinstance(errors, list):
            raise ForgeError("codeowners/errors: the answer has no 'errors' list")
        return [e for e in errors if isinstance(e, dict)]

    def environment(self, name: str) -> dict[str, Any]:
        return json_object(self._request("GET", self._path("environments", name)), f"environment {name}")

    def deployment_branch_policies(self, name: str) -> list[dict[str, Any]]:
        return self._list(self._path("environments", name, "deployment-branch-policies"), "branch_policies")

    def repo_runners(self) -> list[dict[str, Any]]:
        return self._list(self._path("actions", "runners"), "runners")

    def runner_groups(self, org: str) -> list[dict[str, Any]]:
        """The organisation's runner groups that this repository may use."""
        return self._list(f"/orgs/{quote(org, safe='')}/actions/runner-groups", "runner_groups",
                           {"visible_to_repository": self.name})

    def group_runners(self, org: str, group_id: int) -> list[dict[str, Any]]:
        """The self-hosted runners in one of the organisation's runner groups."""
        return self._list(f"/orgs/{quote(org, safe='')}/actions/runner-groups/{int(group_id)}/runners",
                          "runners")

    def app_installation(self) -> dict[str, Any]:
        """The App's installation on this repository, read with a JWT signed by the App's private key."""
        if not (self._app_id and self._app_key):
            raise ForgeError("no GitHub App id and private key were given")
        jwt = app_jwt(self._app_id, self._app_key, self._clock())
        return json_object(self._request("GET", self._path("installation"), auth=jwt), "App installation")

    def org_installations(self, org: str) -> list[dict[str, Any]]:
        return self._list(f"/orgs/{quote(org, safe='')}/installations", "installations")


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def app_jwt(app_id: str, private_key_pem: str, now: float) -> str:
    """A GitHub App JWT (RS256): ``iss`` is the App's client id (or numeric App id), valid for nine minutes."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        key = serialization.load_pem_private_key(private_key_pem.encode("utf-8"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:  # never echo the key
        raise ForgeError("the GitHub App private key cannot be read; expected the unencrypted PEM file "
                         "GitHub generated for the App") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ForgeError("the GitHub App private key is not an RSA key; expected the PEM file GitHub generated")
    issued = int(now) - 60  # GitHub's advice: allow for clock drift
    claims = {"iat": issued, "exp": issued + JWT_LIFETIME, "iss": int(app_id) if app_id.isdigit() else app_id}
    header = {"alg": "RS256", "typ": "JWT"}
    signing_input = b".".join(_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return (signing_input + b"." + _b64url(signature)).decode("ascii")


def _dicts(items: Any) -> list[dict[str, Any]]:
    return [item for item in items if isinstance(item, dict)]
