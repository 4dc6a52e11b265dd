"""The Forge seam over GitHub's REST API (httpx).

The token comes from the caller (``GITHUB_TOKEN``) and never appears in messages, logs or reprs.
``GITHUB_API_URL`` is respected (GitHub Enterprise Server: ``https://HOST/api/v3``). Retries follow
:mod:`mlops.adapters.forge.retry`; writes are idempotent at the level of the Forge seam.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from mlops import __version__
from mlops.adapters.forge import Comment, ForgeError, PullRequest, StatusState, short_description
from mlops.adapters.forge.retry import RetryPolicy, wait_before_retry

API_VERSION = "2022-11-28"
PER_PAGE = 100
MAX_PAGES = 50
# operationId → (path template, method) of every REST operation used; the contract tests check each
# request against GitHub's OpenAPI description of exactly these (tests/fixtures/github/openapi-trimmed.json).
OPERATIONS: dict[str, tuple[str, str]] = {
    "issues/list-comments": ("/repos/{owner}/{repo}/issues/{issue_number}/comments", "get"),
    "issues/create-comment": ("/repos/{owner}/{repo}/issues/{issue_number}/comments", "post"),
    "issues/update-comment": ("/repos/{owner}/{repo}/issues/comments/{comment_id}", "patch"),
    "issues/add-labels": ("/repos/{owner}/{repo}/issues/{issue_number}/labels", "post"),
    "repos/create-commit-status": ("/repos/{owner}/{repo}/statuses/{sha}", "post"),
    "pulls/list": ("/repos/{owner}/{repo}/pulls", "get"),
    "pulls/create": ("/repos/{owner}/{repo}/pulls", "post"),
    "pulls/get": ("/repos/{owner}/{repo}/pulls/{pull_number}", "get"),
    "pulls/update": ("/repos/{owner}/{repo}/pulls/{pull_number}", "patch"),
    "pulls/merge": ("/repos/{owner}/{repo}/pulls/{pull_number}/merge", "put"),
    "pulls/list-reviews": ("/repos/{owner}/{repo}/pulls/{pull_number}/reviews", "get"),
    "repos/list-pull-requests-associated-with-commit": ("/repos/{owner}/{repo}/commits/{commit_sha}/pulls", "get"),
    "repos/get-commit": ("/repos/{owner}/{repo}/commits/{ref}", "get"),
    "git/get-ref": ("/repos/{owner}/{repo}/git/ref/{ref}", "get"),
    "git/create-ref": ("/repos/{owner}/{repo}/git/refs", "post"),
    "git/update-ref": ("/repos/{owner}/{repo}/git/refs/{ref}", "patch"),
    "git/get-commit": ("/repos/{owner}/{repo}/git/commits/{commit_sha}", "get"),
    "git/create-blob": ("/repos/{owner}/{repo}/git/blobs", "post"),
    "git/create-tree": ("/repos/{owner}/{repo}/git/trees", "post"),
    "git/create-commit": ("/repos/{owner}/{repo}/git/commits", "post"),
    "issues/create": ("/repos/{owner}/{repo}/issues", "post"),
    "issues/update": ("/repos/{owner}/{repo}/issues/{issue_number}", "patch"),
    "issues/list-for-repo": ("/repos/{owner}/{repo}/issues", "get"),
    "repos/create-deployment": ("/repos/{owner}/{repo}/deployments", "post"),
    "repos/create-deployment-status": ("/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", "post"),
    "repos/list-deployments": ("/repos/{owner}/{repo}/deployments", "get"),
}
_REPOSITORY = re.compile(r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$")
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


class GitHubForge:
    """Pull request comments, commit statuses, labels and pull requests on one GitHub repository."""

    def __init__(self, repository: str, token: str, api_url: str = "https://api.github.com", *,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, policy: RetryPolicy | None = None,
                 timeout: float = 30.0) -> None:
        if not _REPOSITORY.match(repository):
            raise ForgeError(f"GITHUB_REPOSITORY {repository!r} is not 'owner/name'")
        if not token:
            raise ForgeError("no GitHub token; expected GITHUB_TOKEN in the environment")
        api = urlsplit(api_url)
        if api.scheme not in ("https", "http") or not api.netloc:
            raise ForgeError(f"GITHUB_API_URL {api_url!r} is not an http(s) URL")
        self.repository = repository
        self.owner = repository.split("/", 1)[0]
        self._origin = (api.scheme, api.netloc)
        self._sleep, self._clock = sleep, clock
        self._policy = policy or RetryPolicy()
        self._client = httpx.Client(
            base_url=api_url.rstrip("/"), transport=transport, timeout=timeout, follow_redirects=False,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": API_VERSION, "User-Agent": f"mlops-gitops/{__version__}"},
        )

    def __repr__(self) -> str:  # never the token
        return f"GitHubForge({self.repository!r}, api={self._client.base_url!s})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GitHubForge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP -----------------------------------------------------------------------------------

    def _path(self, *parts: str | int) -> str:
        return "/repos/" + self.repository + "".join("/" + quote(str(p), safe="") for p in parts)

    def _request(self, method: str, url: str, *, params: dict[str, Any] | None = None,
                 json: Any = None) -> httpx.Response:
        for attempt in range(self._policy.attempts):
            try:
                response = self._client.request(method, url, params=params, json=json)
            except httpx.TransportError as exc:
                # the request may not have reached GitHub: retry reads, and writes that never connected
                retryable = method == "GET" or isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if not retryable or attempt + 1 >= self._policy.attempts:
                    raise ForgeError(f"{method} {_show(url)}: {type(exc).__name__}: {exc}") from exc
                self._sleep(self._policy.backoff(attempt))
                continue
            if response.is_success:
                return response
            wait = wait_before_retry(response, attempt, self._clock(), self._policy)
            if wait is None or attempt + 1 >= self._policy.attempts:
                raise ForgeError(_failure(method, url, response, attempt + 1), response.status_code)
            if wait > self._policy.max_wait:
                raise ForgeError(f"{method} {_show(url)}: rate limited for another {wait:.0f} s "
                                 f"(more than the {self._policy.max_wait:.0f} s this command waits); retry later")
            self._sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _pages(self, url: str, params: dict[str, Any]) -> Iterator[Any]:
        """Items of a paginated list, following ``Link: <…>; rel="next"`` on the API's own origin only."""
        next_url: str | None = url
        query: dict[str, Any] | None = {**params, "per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            if next_url is None:
                return
            response = self._request("GET", next_url, params=query)
            items = response.json()
            if not isinstance(items, list):
                raise ForgeError(f"GET {_show(next_url)}: expected a JSON array, got {type(items).__name__}")
            yield from items
            link = response.links.get("next", {}).get("url")
            if link is not None:
                target = urlsplit(link)
                if (target.scheme, target.netloc) != self._origin:
                    raise ForgeError(f"GET {_show(url)}: the next page points to another host ({target.netloc}); "
                                     "refusing to send the token there")
            next_url, query = link, None  # the next link carries its own query
        raise ForgeError(f"GET {_show(url)}: more than {MAX_PAGES} pages")

    # -- the Forge seam -------------------------------------------------------------------------

    def find_comment(self, pr: int, marker: str) -> Comment | None:
        """The first comment starting with ``marker``, preferring one a bot wrote (a person may paste one)."""
        first: Comment | None = None
        for item in self._pages(self._path("issues", pr, "comments"), {}):
            if (item.get("body") or "").startswith(marker):
                if (item.get("user") or {}).get("type") == "Bot":
                    return _comment(item)
                first = first or _comment(item)
        return first

    def create_comment(self, pr: int, body: str) -> Comment:
        return _comment(self._request("POST", self._path("issues", pr, "comments"), json={"body": body}).json())

    def update_comment(self, comment_id: int, body: str) -> Comment:
        response = self._request("PATCH", self._path("issues", "comments", comment_id), json={"body": body})
        return _comment(response.json())

    def set_status(self, sha: str, state: StatusState, context: str, description: str,
                   target_url: str | None = None) -> None:
        if not _SHA.match(sha):
            raise ForgeError(f"{sha!r} is not a full commit SHA; expected 40 (or 64) lower-case hex digits")
        body: dict[str, Any] = {"state": state, "context": context, "description": short_description(description)}
        if target_url:
            body["target_url"] = target_url
        self._request("POST", self._path("statuses", sha), json=body)

    def add_labels(self, pr: int, labels: Sequence[str]) -> None:
        if labels:
            self._request("POST", self._path("issues", pr, "labels"), json={"labels": list(labels)})

    def find_open_pr(self, head: str, base: str | None = None) -> PullRequest | None:
        params: dict[str, Any] = {"state": "open", "head": head if ":" in head else f"{self.owner}:{head}"}
        if base:
            params["base"] = base
        for item in self._pages(self._path("pulls"), params):
            return _pull(item)
        return None

    def open_pr(self, head: str, base: str, title: str, body: str) -> PullRequest:
        existing = self.find_open_pr(head, base)
        if existing is not None:
            return existing
        try:
            response = self._request("POST", self._path("pulls"),
                                     json={"title": title, "head": head, "base": base, "body": body})
        except ForgeError:
            raced = self.find_open_pr(head, base)  # opened meanwhile by a concurrent run: that one is ours
            if raced is not None:
                return raced
            raise
        return _pull(response.json())


def _show(url: str) -> str:
    """A URL for messages: path only (no host, no query)."""
    return urlsplit(url).path or url


def _failure(method: str, url: str, response: httpx.Response, attempts: int) -> str:
    try:
        data = response.json()
        message = data.get("message", "") if isinstance(data, dict) else ""
    except ValueError:
        message = response.text[:200]
    hint = ""
    if response.status_code in (401, 403, 404):
        hint = ("; check that the token may write pull requests, issues and statuses "
                "(workflow permissions: pull-requests: write, issues: write, statuses: write)")
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    return f"{method} {_show(url)}: HTTP {response.status_code} {message}".rstrip() + tries + hint


def _comment(item: Any) -> Comment:
    return Comment(int(item["id"]), item.get("body") or "", item.get("html_url") or "")


def _pull(item: Any) -> PullRequest:
    return PullRequest(int(item["number"]), item["head"]["ref"], item["base"]["ref"], item.get("title") or "",
                       item.get("html_url") or "", item.get("state") or "open")
