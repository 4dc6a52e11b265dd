"""When the forge client retries, and how long it waits (pure policy, no network)."""

from __future__ import annotations

import httpx
import pytest

from mlops.adapters.forge.retry import SECONDARY_LIMIT_WAIT, RetryPolicy, wait_before_retry

POLICY = RetryPolicy(attempts=5, base=1.0, cap=8.0)
NOW = 1_700_000_000.0


def response(status: int, headers: dict[str, str] | None = None, text: str = "") -> httpx.Response:
    return httpx.Response(status, headers=headers, text=text)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_server_errors_and_429_back_off_exponentially_up_to_the_cap(status: int) -> None:
    waits = [wait_before_retry(response(status), retry, NOW, POLICY) for retry in range(5)]
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0]


def test_retry_after_seconds_is_honoured() -> None:
    assert wait_before_retry(response(503, {"Retry-After": "7"}), 0, NOW, POLICY) == 7.0
    assert wait_before_retry(response(429, {"retry-after": "0"}), 3, NOW, POLICY) == 0.0


def test_retry_after_http_date_is_honoured() -> None:
    when = "Tue, 14 Nov 2023 22:13:30 GMT"  # NOW + 10 s
    assert wait_before_retry(response(429, {"Retry-After": when}), 0, NOW, POLICY) == pytest.approx(10.0)


def test_primary_rate_limit_waits_until_reset() -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 30)}
    assert wait_before_retry(response(403, headers, '{"message": "API rate limit exceeded"}'), 0, NOW,
                             POLICY) == 31.0
    assert wait_before_retry(response(429, headers), 0, NOW, POLICY) == 31.0


def test_secondary_rate_limit_with_retry_after_and_without() -> None:
    body = '{"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}'
    assert wait_before_retry(response(403, {"retry-after": "5"}, body), 0, NOW, POLICY) == 5.0
    assert wait_before_retry(response(403, {}, body), 0, NOW, POLICY) == SECONDARY_LIMIT_WAIT
    assert wait_before_retry(response(429, {}, body), 0, NOW, POLICY) == SECONDARY_LIMIT_WAIT


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
def test_client_errors_are_final(status: int) -> None:
    assert wait_before_retry(response(status, {"retry-after": "1"}), 0, NOW, POLICY) is None


def test_plain_403_is_a_missing_permission_and_final() -> None:
    assert wait_before_retry(response(403, {"x-ratelimit-remaining": "4999"},
                                      '{"message": "Resource not accessible by integration"}'), 0, NOW, POLICY) is None


def test_unparseable_retry_after_falls_back_to_backoff() -> None:
    assert wait_before_retry(response(503, {"retry-after": "soon"}), 2, NOW, POLICY) == 4.0
