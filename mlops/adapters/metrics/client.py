"""A small client of Prometheus' HTTP API (``GET /api/v1/query``, instant queries) over httpx.

Credentials never reach a message: ``https://user:password@host`` is split into the address shown
(``https://host``) and HTTP basic auth; a bearer token goes in a header. Every error is one line naming the
address shown. Connection failures, timeouts, 429 and 502/503/504 are retried with a growing wait.

Two kinds of failure: :class:`~mlops.adapters.metrics.MetricsError` when Prometheus cannot be used at all
(unreachable, refused credentials, not Prometheus' API), and :class:`QueryRefused` when Prometheus refused
one query (a bad expression, a query timeout): only that number is unknown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from mlops import __version__

from . import MetricsError

RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER = 30.0


class QueryRefused(Exception):
    """Prometheus answered one query with an error (``bad_data``, ``execution``, ``timeout``)."""


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float  # may be NaN or ±Inf: Prometheus says so in text


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``https://u:p@host:9090/prom/`` → (``https://host:9090/prom``, (u, p)); refuses what is not http(s)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", "")) or "(empty)"
        raise MetricsError(f"monitoring.prometheus_url {shown!r} is not an http(s) URL; expected e.g. "
                           "http://prometheus.monitoring:9090")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    shown = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    if parts.query or parts.fragment:
        raise MetricsError(f"monitoring.prometheus_url {shown} has a query or fragment; expected the base URL only")
    auth = (unquote(parts.username or ""), unquote(parts.password or "")) if parts.username is not None else None
    return shown, auth


class PrometheusClient:
    """Instant queries against one Prometheus; ``url`` is the address without credentials."""

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 10.0, attempts: int = 3,
                 backoff: float = 0.5, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url, auth = split_credentials(url)
        self._secrets = [s for s in (auth[1] if auth else "", token or "") if s]  # the user name is no secret
        self._timeout, self._attempts, self._backoff, self._sleep = timeout, max(1, attempts), backoff, sleep
        headers = {"User-Agent": f"mlops-gitops/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(base_url=self.url, auth=auth, headers=headers, timeout=timeout,
                                    transport=transport, follow_redirects=False)

    def __repr__(self) -> str:  # never the credentials
        return f"{type(self).__name__}({self.url!r})"

    def close(self) -> None:
        self._client.close()

    def _scrub(self, text: str) -> str:
        line = " ".join(text.split())
        for secret in self._secrets:
            line = line.replace(secret, "***")
        return line if len(line) <= 200 else line[:199] + "…"

    def _fail(self, what: str) -> MetricsError:
        return MetricsError(f"Prometheus at {self.url}: {self._scrub(what)}")

    def _get(self, promql: str, at: float) -> httpx.Response:
        params = {"query": promql, "time": f"{at:.3f}", "timeout": f"{self._timeout:g}s"}
        for attempt in range(self._attempts):
            last = attempt == self._attempts - 1
            try:
                response = self._client.get("/api/v1/query", params=params)
            except httpx.TimeoutException as exc:
                if last:
                    raise self._fail(f"no answer within {self._timeout:g} s ({type(exc).__name__}) after "
                                     f"{self._attempts} attempts; check that it is up and reachable") from None
                wait = self._backoff * 2 ** attempt
            except httpx.TransportError as exc:
                if last:
                    raise self._fail(f"cannot be reached ({type(exc).__name__}: {exc}) after {self._attempts} "
                                     "attempts; check monitoring.prometheus_url and that Prometheus is up") from None
                wait = self._backoff * 2 ** attempt
            else:
                if response.status_code not in RETRY_STATUSES or last:
                    return response
                wait = _retry_after(response) or self._backoff * 2 ** attempt
            self._sleep(min(wait, MAX_RETRY_AFTER))
        raise AssertionError("unreachable")  # pragma: no cover

    def query(self, promql: str, at: float) -> list[Sample]:
        """The instant vector (or scalar) ``promql`` evaluates to at Unix time ``at``."""
        response = self._get(promql, at)
        status = response.status_code
        if status in (401, 403):
            raise self._fail(f"refused access (HTTP {status}); check the credentials (user:password in "
                             "monitoring.prometheus_url, or MLOPS_PROMETHEUS_TOKEN)")
        if status == 404:
            raise self._fail("has no /api/v1/query (HTTP 404); expected Prometheus' base URL (not …/graph)")
        if status in (301, 302, 303, 307, 308):
            raise self._fail(f"redirects (HTTP {status}); expected Prometheus' base URL itself")
        try:
            body = response.json()
        except ValueError:
            raise self._fail(f"answered HTTP {status} with something that is not its HTTP API's JSON "
                             f"({response.headers.get('content-type', 'no content type')}): {response.text}") from None
        if not isinstance(body, dict) or body.get("status") not in ("success", "error"):
            raise self._fail(f"answered HTTP {status} with JSON that is not its HTTP API's: {body!s}")
        if body["status"] == "error":
            if status in (400, 422, 503):  # bad_data, execution, timeout: this query only
                raise QueryRefused(self._scrub(f"Prometheus refused the query ({body.get('errorType', status)}): "
                                               f"{body.get('error', '')}"))
            raise self._fail(f"answered HTTP {status}: {body.get('errorType', '')} {body.get('error', '')}")
        if status != 200:
            raise self._fail(f"answered HTTP {status} to a query")
        try:
            return _samples(body.get("data"))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise self._fail(f"answered a malformed result ({type(exc).__name__}: {exc})") from None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None


def _number(value: Any) -> float:
    if not isinstance(value, str):
        raise ValueError(f"a sample value is {type(value).__name__}, expected a string")
    return float(value)  # "NaN", "+Inf", "-Inf" included


def _samples(data: Any) -> list[Sample]:
    kind = data["resultType"]
    if kind == "scalar":
        return [Sample({}, _number(data["result"][1]))]
    if kind != "vector":
        raise ValueError(f"resultType {kind!r}, expected vector or scalar")
    return [Sample({str(k): str(v) for k, v in item["metric"].items()}, _number(item["value"][1]))
            for item in data["result"]]
