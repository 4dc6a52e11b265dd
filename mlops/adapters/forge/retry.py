"""When to retry a forge request, and how long to wait first (pure; the sleep is the caller's).

Retried: 5xx, 429, and GitHub's rate limits on 403 (a ``Retry-After`` header, or
``x-ratelimit-remaining: 0`` with ``x-ratelimit-reset``, or a "secondary rate limit" message).
``Retry-After`` is honoured; otherwise the wait grows exponentially. Attempts are bounded, and a
wait longer than ``max_wait`` is not slept through: the caller fails with the time it would need.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Protocol

RETRY_STATUSES = frozenset({500, 502, 503, 504, 429})
SECONDARY_LIMIT_WAIT = 60.0  # GitHub: without a header, wait at least a minute after a secondary limit


class ResponseLike(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> object: ...  # a case-insensitive mapping (httpx.Headers)

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # requests in all, the first included
    base: float = 1.0  # first backoff, seconds; doubles each retry
    cap: float = 60.0  # longest exponential backoff
    max_wait: float = 900.0  # longest single wait accepted (a rate limit that resets later fails instead)

    def backoff(self, retry: int) -> float:
        """The exponential wait before retry number ``retry`` (0-based)."""
        return float(min(self.cap, self.base * (2**retry)))


def _header(response: ResponseLike, name: str) -> str | None:
    value = response.headers.get(name)  # type: ignore[attr-defined]
    return value if isinstance(value, str) and value.strip() else None


def _retry_after(value: str, now: float) -> float | None:
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def wait_before_retry(response: ResponseLike, retry: int, now: float, policy: RetryPolicy) -> float | None:
    """Seconds to wait before retrying ``response``'s request, or None when it must not be retried."""
    status = response.status_code
    if status not in RETRY_STATUSES and status != 403:
        return None
    after = _header(response, "retry-after")
    if after is not None:
        seconds = _retry_after(after, now)
        if seconds is not None:
            return seconds
    if _header(response, "x-ratelimit-remaining") == "0":
        reset = _header(response, "x-ratelimit-reset")
        if reset is not None and reset.strip().isdigit():
            return max(0.0, float(reset) - now) + 1.0
    if status in (403, 429) and "secondary rate limit" in response.text.lower():
        return max(SECONDARY_LIMIT_WAIT, policy.backoff(retry))
    if status == 403:
        return None  # a plain 403: the token lacks a permission; retrying will not help
    return policy.backoff(retry)
