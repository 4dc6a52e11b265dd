"""The Prometheus HTTP client: answers parsed, retries, one-line errors that never show credentials."""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from mlops.adapters.metrics import MetricsError
from mlops.adapters.metrics.client import PrometheusClient, QueryRefused, split_credentials

URL = "https://monitor:s3cr%40t@prom.example:9090/prometheus/"
SHOWN = "https://prom.example:9090/prometheus"
Handler = Callable[[httpx.Request], httpx.Response]


def vector(*values: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": labels or {}, "value": [1.7e9, v]} for v in values]}}


def client(handler: Handler, sleeps: list[float] | None = None, **kw: Any) -> PrometheusClient:
    waits = sleeps if sleeps is not None else []
    return PrometheusClient(URL, transport=httpx.MockTransport(handler), sleep=waits.append, **kw)


def test_credentials_become_basic_auth_and_are_never_shown() -> None:
    assert split_credentials(URL) == (SHOWN, ("monitor", "s3cr@t"))
    assert split_credentials("http://[::1]:9090") == ("http://[::1]:9090", None)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=vector("1"))

    prom = client(handler)
    assert prom.url == SHOWN and "s3cr" not in repr(prom) and "monitor" not in repr(prom)
    prom.query("up", 1700000000.5)
    (request,) = seen
    assert request.url.path == "/prometheus/api/v1/query" and request.url.params["query"] == "up"
    assert request.url.params["time"] == "1700000000.500" and "s3cr" not in str(request.url)
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"monitor:s3cr@t").decode()


def test_a_token_is_a_bearer_header() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json=vector())

    PrometheusClient("http://prom:9090", token="tok", transport=httpx.MockTransport(handler)).query("up", 1.0)
    assert seen == ["Bearer tok"]


@pytest.mark.parametrize("url", ["prom:9090", "ftp://prom", "", "http://:9090", "http://u:pw@prom:9090/?t=pw"])
def test_what_is_not_a_base_url_is_refused_without_its_secrets(url: str) -> None:
    with pytest.raises(MetricsError) as caught:
        split_credentials(url)
    assert "pw" not in str(caught.value) and "\n" not in str(caught.value)


def test_vectors_and_scalars_parse_with_nan_and_infinities() -> None:
    answers = iter([vector("0.5", "NaN", "+Inf", labels={"pod": "a"}),
                    {"status": "success", "data": {"resultType": "scalar", "result": [1.7e9, "-Inf"]}}])
    prom = client(lambda r: httpx.Response(200, json=next(answers)))
    first = prom.query("x", 1.0)
    assert [s.labels for s in first] == [{"pod": "a"}] * 3
    assert first[0].value == 0.5 and math.isnan(first[1].value) and first[2].value == math.inf
    assert [s.value for s in prom.query("y", 1.0)] == [-math.inf]


def test_unavailable_and_rate_limited_answers_are_retried_with_growing_waits() -> None:
    answers = iter([httpx.Response(503, text="upstream"), httpx.Response(429, headers={"retry-after": "2"}),
                    httpx.Response(200, json=vector("3"))])
    sleeps: list[float] = []
    assert client(lambda r: next(answers), sleeps, attempts=3).query("x", 1.0)[0].value == 3.0
    assert sleeps == [0.5, 2.0]


def test_unreachable_after_every_attempt_is_one_line_naming_the_url_only() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("[Errno 111] Connection refused for monitor:s3cr@t")

    sleeps: list[float] = []
    with pytest.raises(MetricsError) as caught:
        client(handler, sleeps, attempts=3).query("x", 1.0)
    message = str(caught.value)
    assert len(calls) == 3 and sleeps == [0.5, 1.0]
    assert message == (f"prometheus:1:1: Prometheus at {SHOWN}: cannot be reached (ConnectError: [Errno 111] "
                       "Connection refused for monitor:***) after 3 attempts; check monitoring.prometheus_url and "
                       "that Prometheus is up")


def test_a_timeout_says_how_long_it_waited() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    with pytest.raises(MetricsError, match=r"no answer within 2 s \(ReadTimeout\) after 2 attempts"):
        client(handler, attempts=2, timeout=2).query("x", 1.0)


@pytest.mark.parametrize(("response", "expected"), [
    (httpx.Response(401, text="monitor:s3cr@t denied"), "refused access (HTTP 401); check the credentials"),
    (httpx.Response(404, text="not found"), "has no /api/v1/query (HTTP 404)"),
    (httpx.Response(302, headers={"location": "/login"}), "redirects (HTTP 302)"),
    (httpx.Response(200, text="<html>s3cr@t</html>", headers={"content-type": "text/html"}),
     "answered HTTP 200 with something that is not its HTTP API's JSON (text/html): <html>***</html>"),
    (httpx.Response(200, json=[1, 2]), "answered HTTP 200 with JSON that is not its HTTP API's"),
    (httpx.Response(200, json={"status": "success", "data": {"resultType": "matrix", "result": []}}),
     "answered a malformed result (ValueError: resultType 'matrix', expected vector or scalar)"),
    (httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": [{"value": 1}]}}),
     "answered a malformed result (KeyError"),
    (httpx.Response(500, json={"status": "error", "errorType": "internal", "error": "boom"}),
     "answered HTTP 500: internal boom"),
])
def test_answers_that_make_prometheus_unusable_are_errors(response: httpx.Response, expected: str) -> None:
    with pytest.raises(MetricsError) as caught:
        client(lambda r: response, attempts=1).query("x", 1.0)
    message = str(caught.value)
    assert expected in message and SHOWN in message and "s3cr@t" not in message and "\n" not in message


@pytest.mark.parametrize("status", [400, 422, 503])
def test_a_refused_query_concerns_that_query_only(status: int) -> None:
    body = {"status": "error", "errorType": "bad_data", "error": 'parse error: unexpected "}"'}
    with pytest.raises(QueryRefused, match=r'Prometheus refused the query \(bad_data\): parse error: unexpected "}"'):
        client(lambda r: httpx.Response(status, json=body), attempts=2).query("x{", 1.0)
