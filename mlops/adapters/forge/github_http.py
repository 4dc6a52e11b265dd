"""The HTTP side of the GitHub forge (httpx): headers, retries, pagination, error messages.

The token comes from the caller and never appears in messages, logs or reprs. ``GITHUB_API_URL`` is
respected (GitHub Enterprise Server: ``https://HOST/api/v3``). Retries follow
:mod:`mlops.adapters.forge.retry`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any, Self
from urllib.parse import quote, urlsplit

import httpx

from mlops import __version__
from mlops.adapters.forge import ForgeError
from mlops.adapters.forge.retry import RetryPolicy, wait_before_retry

API_VERSION = "2022-11-28"
PER_PAGE = 100
MAX_PAGES = 50
DEFAULT_IDENTITY = "github-actions[bot]"  # who a workflow's GITHUB_TOKEN writes as
_REPOSITORY = re.compile(r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$")


class GitHubHttp:
    """An authenticated client of one repository's REST API."""

    # what to check when GitHub answers 401/403/404 (the forge writes; a settings reader only reads)
    failure_hint = ("check that the token may write pull requests, issues and statuses (workflow permissions: "
                    "pull-requests: write, issues: write, statuses: write)")

    def __init__(self, repository: str, token: str, api_url: str = "https://api.github.com", *,
                 identity: str = DEFAULT_IDENTITY, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
                 policy: RetryPolicy | None = None, timeout: float = 30.0) -> None:
        if not _REPOSITORY.match(repository):
            raise ForgeError(f"GITHUB_REPOSITORY {repository!r} is not 'owner/name'")
        if not token:
            raise ForgeError("no GitHub token; expected GITHUB_TOKEN in the environment")
        api = urlsplit(api_url)
        if api.scheme not in ("https", "http") or not api.netloc:
            raise ForgeError(f"GITHUB_API_URL {api_url!r} is not an http(s) URL")
        self.repository = repository
        self.identity = identity
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
        return f"{type(self).__name__}({self.repository!r}, api={self._client.base_url!s})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP -----------------------------------------------------------------------------------

    def _path(self, *parts: str | int) -> str:
        return "/repos/" + self.repository + "".join("/" + quote(str(p), safe="") for p in parts)

    def _request(self, method: str, url: str, *, params: dict[str, Any] | None = None,
                 json: Any = None, auth: str | None = None) -> httpx.Response:
        """One request with retries; ``auth`` replaces the token for this call (e.g. a GitHub App's JWT)."""
        headers = {"Authorization": f"Bearer {auth}"} if auth else None
        for attempt in range(self._policy.attempts):
            try:
                response = self._client.request(method, url, params=params, json=json, headers=headers)
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
                raise ForgeError(_failure(method, url, response, attempt + 1, self.failure_hint),
                                 response.status_code)
            if wait > self._policy.max_wait:
                raise ForgeError(f"{method} {_show(url)}: rate limited for another {wait:.0f} s "
                                 f"(more than the {self._policy.max_wait:.0f} s this command waits); retry later",
                                 response.status_code)
            self._sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _pages(self, url: str, params: dict[str, Any], key: str | None = None) -> Iterator[Any]:
        """Items of a paginated list (a JSON array, or the array under ``key`` of an object), following
        ``Link: <…>; rel="next"`` on the API's own origin only."""
        next_url: str | None = url
        query: dict[str, Any] | None = {**params, "per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            if next_url is None:
                return
            response = self._request("GET", next_url, params=query)
            data = json_of(response)
            items = data if key is None else data.get(key) if isinstance(data, dict) else None
            if not isinstance(items, list):
                wanted = f"an object with a {key!r} array" if key else "a JSON array"
                raise ForgeError(f"GET {_show(next_url)}: expected {wanted}, got {type(data).__name__}")
            yield from items
            link = response.links.get("next", {}).get("url")
            if link is not None:
                target = urlsplit(link)
                if (target.scheme, target.netloc) != self._origin:
                    raise ForgeError(f"GET {_show(url)}: the next page points to another host ({target.netloc}); "
                                     "refusing to send the token there")
            next_url, query = link, None  # the next link carries its own query
        raise ForgeError(f"GET {_show(url)}: more than {MAX_PAGES} pages")

def _show(url: str) -> str:
    """A URL for messages: path only (no host, no query)."""
    return urlsplit(url).path or url


def _failure(method: str, url: str, response: httpx.Response, attempts: int, check: str) -> str:
    try:
        data = response.json()
        message = data.get("message", "") if isinstance(data, dict) else ""
    except ValueError:
        message = response.text[:200]
    hint = f"; {check}" if check and response.status_code in (401, 403, 404) else ""
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    return f"{method} {_show(url)}: HTTP {response.status_code} {message}".rstrip() + tries + hint


def json_of(response: httpx.Response) -> Any:
    """The parsed JSON of an answer; an answer that is not JSON is a ForgeError."""
    try:
        return response.json()
    except ValueError as exc:
        raise ForgeError(f"{response.request.method} {_show(str(response.request.url))}: the answer is not JSON") \
            from exc


def json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    data = json_of(response)
    if not isinstance(data, dict):
        raise ForgeError(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data
