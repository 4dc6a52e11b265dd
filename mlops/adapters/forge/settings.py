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
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from mlops import __version__
from mlops.adapters.forge import ForgeError
from mlops.adapters.forge.github_http import API_VERSION, MAX_PAGES, PER_PAGE  # the Forge client's too
from mlops.adapters.forge.retry import RetryPolicy, wait_before_retry

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
_REPOSITORY = re.compile(r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$")
JWT_LIFETIME = 540  # seconds; GitHub refuses an App JWT that expires more than 10 minutes ahead


class GitHubSettings:
    """Reads one repository's (and its organisation's) settings. Implements ``mlops.doctor.SettingsSource``."""

    def __init__(self, repository: str, token: str, api_url: str = "https://api.github.com", *,
                 app_id: str | None = None, app_private_key: str | None = None,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, policy: RetryPolicy | None = None,
                 timeout: float = 30.0) -> None:
        if not _REPOSITORY.match(repository):
            raise ForgeError(f"repository {repository!r} is not 'owner/name'")
        if not token:
            raise ForgeError("no GitHub token; expected GITHUB_TOKEN or GH_TOKEN in the environment")
        api = urlsplit(api_url)
        if api.scheme not in ("https", "http") or not api.netloc:
            raise ForgeError(f"GITHUB_API_URL {api_url!r} is not an http(s) URL")
        self.repository = repository
        self.owner, self.name = repository.split("/", 1)
        self._app_id, self._app_key = app_id or None, app_private_key or None
        self._origin = (api.scheme, api.netloc)
        self._sleep, self._clock = sleep, clock
        self._policy = policy or RetryPolicy()
        self._client = httpx.Client(
            base_url=api_url.rstrip("/"), transport=transport, timeout=timeout, follow_redirects=False,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": API_VERSION, "User-Agent": f"mlops-gitops/{__version__}"},
        )

    def __repr__(self) -> str:  # never the token or the App's key
        return f"GitHubSettings({self.repository!r}, api={self._client.base_url!s})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GitHubSettings:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def has_app_key(self) -> bool:
        return bool(self._app_id and self._app_key)

    # -- reads (one method per operation) -----------------------------------------------------------

    def repo(self) -> dict[str, Any]:
        return _object(self._get(self._repo_path()), "repos/get")

    def fork_pr_approval(self) -> dict[str, Any]:
        return _object(self._get(self._repo_path("actions", "permissions", "fork-pr-contributor-approval")),
                       "fork PR approval")

    def branch_rules(self, branch: str) -> list[dict[str, Any]]:
        return self._items(self._repo_path("rules", "branches", branch), None)

    def file_text(self, path: str, ref: str) -> str:
        """The text of the file at ``path`` on ``ref`` (a 404 is a ForgeError with status 404)."""
        url = self._repo_path("contents") + "/" + quote(path.strip("/"), safe="/")  # multi-segment path
        data = _object(self._get(url, {"ref": ref}), f"contents of {path}")
        if data.get("type") != "file":
            raise ForgeError(f"{path} at {ref} is a {data.get('type')!s}, not a file")
        if data.get("encoding") != "base64" or not isinstance(data.get("content"), str):
            raise ForgeError(f"{path} at {ref}: the API did not return its content (too large, or not base64)")
        try:
            return base64.b64decode(data["content"], validate=False).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise ForgeError(f"{path} at {ref}: the content is not base64-encoded UTF-8 text") from exc

    def workflows(self) -> list[dict[str, Any]]:
        return self._items(self._repo_path("actions", "workflows"), "workflows")

    def codeowners_errors(self, ref: str) -> list[dict[str, Any]]:
        data = _object(self._get(self._repo_path("codeowners", "errors"), {"ref": ref}), "CODEOWNERS errors")
        errors = data.get("errors")
        if not isinstance(errors, list):
            raise ForgeError("codeowners/errors: the answer has no 'errors' list")
        return [e for e in errors if isinstance(e, dict)]

    def environment(self, name: str) -> dict[str, Any]:
        return _object(self._get(self._repo_path("environments", name)), f"environment {name}")

    def deployment_branch_policies(self, name: str) -> list[dict[str, Any]]:
        return self._items(self._repo_path("environments", name, "deployment-branch-policies"), "branch_policies")

    def repo_runners(self) -> list[dict[str, Any]]:
        return self._items(self._repo_path("actions", "runners"), "runners")

    def runner_groups(self, org: str) -> list[dict[str, Any]]:
        """The organisation's runner groups that this repository may use."""
        return self._items(f"/orgs/{quote(org, safe='')}/actions/runner-groups", "runner_groups",
                           {"visible_to_repository": self.name})

    def group_runners(self, org: str, group_id: int) -> list[dict[str, Any]]:
        """The self-hosted runners in one of the organisation's runner groups."""
        return self._items(f"/orgs/{quote(org, safe='')}/actions/runner-groups/{int(group_id)}/runners", "runners")

    def app_installation(self) -> dict[str, Any]:
        """The App's installation on this repository, read with a JWT signed by the App's private key."""
        if not (self._app_id and self._app_key):
            raise ForgeError("no GitHub App id and private key were given")
        jwt = app_jwt(self._app_id, self._app_key, self._clock())
        return _object(self._get(self._repo_path("installation"), auth=jwt), "App installation")

    def org_installations(self, org: str) -> list[dict[str, Any]]:
        return self._items(f"/orgs/{quote(org, safe='')}/installations", "installations")

    # -- HTTP ---------------------------------------------------------------------------------------

    def _repo_path(self, *parts: str) -> str:
        return f"/repos/{self.owner}/{self.name}" + "".join("/" + quote(p, safe="") for p in parts)

    def _get(self, url: str, params: dict[str, Any] | None = None, *, auth: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {auth}"} if auth else None
        for attempt in range(self._policy.attempts):
            try:
                response = self._client.get(url, params=params, headers=headers)
            except httpx.TransportError as exc:  # a read: always safe to retry
                if attempt + 1 >= self._policy.attempts:
                    raise ForgeError(f"GET {_show(url)}: {type(exc).__name__}: {exc}") from exc
                self._sleep(self._policy.backoff(attempt))
                continue
            if response.is_success:
                return response
            wait = wait_before_retry(response, attempt, self._clock(), self._policy)
            if wait is None or attempt + 1 >= self._policy.attempts:
                raise ForgeError(_failure(url, response, attempt + 1), response.status_code)
            if wait > self._policy.max_wait:
                raise ForgeError(f"GET {_show(url)}: rate limited for another {wait:.0f} s (more than the "
                                 f"{self._policy.max_wait:.0f} s this command waits); retry later",
                                 response.status_code)
            self._sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _items(self, url: str, key: str | None, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of a paginated list (a JSON array, or the array under ``key``), following ``Link``."""
        items: list[dict[str, Any]] = []
        next_url: str | None = url
        query: dict[str, Any] | None = {**(params or {}), "per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            if next_url is None:
                return items
            response = self._get(next_url, query)
            data = _json(response, next_url)
            page = data if key is None else data.get(key) if isinstance(data, dict) else None
            if not isinstance(page, list):
                wanted = f"an object with a {key!r} array" if key else "a JSON array"
                raise ForgeError(f"GET {_show(next_url)}: expected {wanted}, got {type(data).__name__}")
            items += [item for item in page if isinstance(item, dict)]
            link = response.links.get("next", {}).get("url")
            if link is not None and (urlsplit(link).scheme, urlsplit(link).netloc) != self._origin:
                raise ForgeError(f"GET {_show(url)}: the next page points to another host "
                                 f"({urlsplit(link).netloc}); refusing to send the token there")
            next_url, query = link, None  # the next link carries its own query
        raise ForgeError(f"GET {_show(url)}: more than {MAX_PAGES} pages")


def _show(url: str) -> str:
    """A URL for messages: path only (no host, no query)."""
    return urlsplit(url).path or url


def _json(response: httpx.Response, url: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ForgeError(f"GET {_show(url)}: the answer is not JSON") from exc


def _object(response: httpx.Response, what: str) -> dict[str, Any]:
    data = _json(response, str(response.request.url))
    if not isinstance(data, dict):
        raise ForgeError(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


def _failure(url: str, response: httpx.Response, attempts: int) -> str:
    try:
        data = response.json()
        message = data.get("message", "") if isinstance(data, dict) else ""
    except ValueError:
        message = response.text[:200]
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    return f"GET {_show(url)}: HTTP {response.status_code} {message}".rstrip() + tries


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
