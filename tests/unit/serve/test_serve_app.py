"""The HTTP API on 127.0.0.1: protocol conformance of every endpoint, readiness, batching, overload, drain."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest

from mlops.serve.server import Limits
from tests.helpers.serve import Artifact, Gated, Running, digits_rows, infer_body

ServeFn = Callable[..., Running]
MODEL = "digits-cnn"


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(?:\{{([^}}]*)\}})? (\S+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


def test_health_metadata_and_inference_conform_to_the_protocol(serve: ServeFn, predictor: Any,
                                                               digits: Artifact) -> None:
    srv = serve(predictor)
    version = digits.version
    live, ready = srv.get("/v2/health/live"), srv.get("/v2/health/ready")
    assert (live.status_code, live.json()) == (200, {"live": True})
    assert (ready.status_code, ready.json()) == (200, {"ready": True})
    server_meta = srv.get("/v2").json()
    assert server_meta["name"] == "mlops" and server_meta["extensions"] == []
    meta = srv.get(f"/v2/models/{MODEL}")
    assert meta.status_code == 200 and meta.headers["content-type"] == "application/json"
    assert meta.json() == {"name": MODEL, "versions": [version], "platform": "pytorch_torchexport",
                           "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 64]}],
                           "outputs": [{"name": "output", "datatype": "FP32", "shape": [-1, 10]}]}
    assert srv.get(f"/v2/models/{MODEL}/versions/{version}").json() == meta.json()
    for path in (f"/v2/models/{MODEL}/ready", f"/v2/models/{MODEL}/versions/{version}/ready"):
        assert srv.get(path).json() == {"name": MODEL, "ready": True}

    rows = digits_rows(3)
    for path in (f"/v2/models/{MODEL}/infer", f"/v2/models/{MODEL}/versions/{version}/infer"):
        resp = srv.post(path, infer_body(rows, rid="req-42") | {"parameters": {"trace": True}})
        assert resp.status_code == 200
        doc = resp.json()
        assert doc["model_name"] == MODEL and doc["model_version"] == version and doc["id"] == "req-42"
        (out,) = doc["outputs"]
        assert (out["name"], out["datatype"], out["shape"]) == ("output", "FP32", [3, 10])
        np.testing.assert_allclose(np.array(out["data"]).reshape(3, 10), predictor.predict(rows), rtol=1e-5,
                                   atol=1e-4)
    nested = srv.post(f"/v2/models/{MODEL}/infer", {"inputs": [{"name": "input", "datatype": "FP32",
                                                              "shape": [3, 64], "data": rows.tolist()}]})
    assert nested.json()["outputs"][0]["data"] == resp.json()["outputs"][0]["data"]
    by_header = srv.post(f"/v2/models/{MODEL}/infer", infer_body(rows[:1]), headers={"x-request-id": "hdr-7"})
    assert by_header.json()["id"] == "hdr-7"
    generated = {srv.post(f"/v2/models/{MODEL}/infer", infer_body(rows[:1])).json()["id"] for _ in range(3)}
    assert len(generated) == 3 and all(generated)


@pytest.mark.parametrize(("method", "path", "status", "message"), [
    ("GET", "/v2/models/other", 404, "unknown model 'other'; this server serves 'digits-cnn'"),
    ("GET", "/v2/models/digits-cnn/versions/v0", 404, "unknown version 'v0' of model 'digits-cnn'"),
    ("GET", "/v2/models/other/ready", 404, "unknown model 'other'"),
    ("POST", "/v2/models/other/infer", 404, "unknown model 'other'"),
    ("POST", "/v2/models/digits-cnn/versions/v0/infer", 404, "unknown version 'v0'"),
    ("GET", "/v2/models/digits-cnn/infer", 405, "GET /v2/models/digits-cnn/infer: use POST"),
    ("POST", "/v2/health/ready", 405, "POST /v2/health/ready: not allowed; expected GET"),
    ("GET", "/v1/models", 404, "no such endpoint: /v1/models"),
    ("GET", "/v2/models/a/b/c", 404, "no such endpoint"),
])
def test_wrong_paths_and_methods_get_protocol_error_bodies(shared: Running, method: str, path: str, status: int,
                                                           message: str) -> None:
    srv = shared
    resp = httpx.request(method, srv.url + path, json={}, timeout=10)
    assert resp.status_code == status
    assert resp.json()["error"].startswith(message)


@pytest.mark.parametrize(("body", "message"), [
    (b"{", "request body: invalid JSON"),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 64], "data": []}]}',
     "inputs[0].name: unknown input 'x'; expected 'input'"),
    (b'{"inputs": [{"name": "input", "datatype": "INT8", "shape": [1, 64], "data": []}]}',
     "inputs[0].datatype: expected 'FP32', got 'INT8'"),
    (b'{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 63], "data": []}]}',
     "inputs[0].shape: expected [N, 64] with 1 ≤ N ≤ 32, got [1, 63]"),
    (b'{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64], "data": [1, 2]}]}',
     "inputs[0].data: expected 64 values for shape [1, 64], got 2"),
    (b'{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64], "data": ["a"]}]}',
     "inputs[0].data: expected numbers for datatype FP32, found strings"),
])
def test_bad_input_is_400_naming_the_field(shared: Running, body: bytes, message: str) -> None:
    before = metric(shared.get("/metrics").text, "mlops_serve_errors_total", code="400", reason="bad_request")
    resp = httpx.post(shared.url + f"/v2/models/{MODEL}/infer", content=body, timeout=10)
    assert resp.status_code == 400
    assert resp.json()["error"].startswith(message)
    after = metric(shared.get("/metrics").text, "mlops_serve_errors_total", code="400", reason="bad_request")
    assert after == before + 1


def test_metrics_expose_stages_batches_queue_errors_and_model_info(serve: ServeFn, predictor: Any,
                                                                   digits: Artifact) -> None:
    srv = serve(predictor)
    srv.post(f"/v2/models/{MODEL}/infer", infer_body(digits_rows(2)))
    srv.post(f"/v2/models/{MODEL}/infer", {"inputs": []})
    resp = srv.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = resp.text
    for stage in ("decode", "queue", "batch", "inference", "serialisation"):
        assert metric(text, "mlops_serve_stage_seconds_count", stage=stage) == 1, stage
    assert metric(text, "mlops_serve_request_seconds_count") == 1
    assert metric(text, "mlops_serve_requests_total", route="infer", code="200") == 1
    assert metric(text, "mlops_serve_errors_total", code="400") == 1
    assert metric(text, "mlops_serve_batch_size_sum") == 2
    assert "mlops_serve_queue_depth 0.0" in text and "mlops_serve_ready 1.0" in text
    assert f'mlops_model_info{{digest="{digits.record.artifact.digest}",model="digits-cnn",' \
           f'version="{digits.version}"}} 1.0' in text


def test_ready_only_after_warm_up_of_every_batch_size(serve: ServeFn, predictor: Any) -> None:
    gated = Gated(predictor)
    gated.gate.clear()
    srv = serve(gated, ready=False, limits=Limits(max_batch_size=8, max_latency_ms=5, max_queue=16, warmup_runs=2))
    deadline = time.monotonic() + 30
    while srv.get("/v2/health/live").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert srv.get("/v2/health/ready").status_code == 503
    assert srv.get("/v2/health/ready").json() == {"ready": False}
    assert srv.get(f"/v2/models/{MODEL}/ready").json() == {"name": MODEL, "ready": False}
    refused = srv.post(f"/v2/models/{MODEL}/infer", infer_body(digits_rows(1)))
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert "warming up" in refused.json()["error"]
    assert "mlops_serve_ready 0.0" in srv.get("/metrics").text
    gated.gate.set()
    srv.wait_ready()
    assert srv.get("/v2/health/ready").status_code == 200
    assert sorted(gated.sizes) == sorted([*range(1, 9)] * 2)  # every batch size, twice, before ready
    assert "mlops_serve_warmup_seconds" in srv.get("/metrics").text


async def _fire(url: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=len(bodies))
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        return list(await asyncio.gather(*(client.post(f"/v2/models/{MODEL}/infer", json=b) for b in bodies)))


def test_concurrent_requests_batch_together_with_results_ids_and_order_preserved(serve: ServeFn,
                                                                                 predictor: Any) -> None:
    gated = Gated(predictor, delay=0.01)
    srv = serve(gated)
    gated.sizes.clear()
    rng = np.random.default_rng(3)
    inputs = [digits_rows(int(rng.integers(1, 4)), seed=i) for i in range(48)]
    responses = asyncio.run(_fire(srv.url, [infer_body(x, rid=f"id-{i}") for i, x in enumerate(inputs)]))
    for i, (x, resp) in enumerate(zip(inputs, responses, strict=True)):
        assert resp.status_code == 200
        doc = resp.json()
        assert doc["id"] == f"id-{i}"
        got = np.array(doc["outputs"][0]["data"], dtype=np.float32).reshape(len(x), 10)
        np.testing.assert_allclose(got, predictor.predict(x), rtol=1e-4, atol=1e-3)
    assert max(gated.sizes) > 1 and sum(gated.sizes) == sum(len(x) for x in inputs)
    text = srv.get("/metrics").text
    batches, rows = metric(text, "mlops_serve_batch_size_count"), metric(text, "mlops_serve_batch_size_sum")
    assert rows == sum(len(x) for x in inputs) and batches < len(inputs)
    assert metric(text, "mlops_serve_batch_size_bucket", le="1.0") < batches  # some batches held > 1 row


def test_overload_gets_fast_429_with_retry_after_and_admitted_requests_succeed(serve: ServeFn,
                                                                               predictor: Any) -> None:
    gated = Gated(predictor, delay=0.05)
    srv = serve(gated, limits=Limits(max_batch_size=2, max_latency_ms=1, max_queue=4, warmup_runs=1))
    start = time.monotonic()
    responses = asyncio.run(_fire(srv.url, [infer_body(digits_rows(1, seed=i)) for i in range(40)]))
    assert time.monotonic() - start < 20
    codes = [r.status_code for r in responses]
    assert set(codes) == {200, 429} and codes.count(429) >= 10 and codes.count(200) >= 4
    for resp in responses:
        if resp.status_code == 429:
            assert int(resp.headers["retry-after"]) >= 1 and "overloaded" in resp.json()["error"]
        else:
            assert resp.json()["outputs"][0]["shape"] == [1, 10]
    assert srv.get("/v2/health/live").status_code == 200
    assert metric(srv.get("/metrics").text, "mlops_serve_errors_total", code="429") == codes.count(429)


def test_a_lagging_event_loop_sheds_load_before_decoding(serve: ServeFn, predictor: Any) -> None:
    gated = Gated(predictor)
    srv = serve(gated, limits=Limits(max_batch_size=2, max_latency_ms=1, max_queue=64, warmup_runs=1))
    srv.app.max_lag = -1.0  # any measured lag (≥ 0) is too much ...
    assert srv.post(f"/v2/models/{MODEL}/infer", infer_body(digits_rows(1))).status_code == 200  # ... if < a batch
    gated.gate.clear()

    async def scenario() -> tuple[list[httpx.Response], httpx.Response]:
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
            held = [asyncio.create_task(client.post(f"/v2/models/{MODEL}/infer", json=infer_body(digits_rows(1))))
                    for _ in range(2)]
            while srv.app.inflight < 2:
                await asyncio.sleep(0.005)
            refused = await client.post(f"/v2/models/{MODEL}/infer", content=b"not even JSON")
            gated.gate.set()
            return list(await asyncio.gather(*held)), refused

    held, refused = asyncio.run(scenario())
    assert [r.status_code for r in held] == [200, 200]
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert refused.json()["error"] == "server is overloaded (event loop full); retry later"


def test_lag_watcher_measures_how_late_the_loop_runs() -> None:
    from mlops.serve.app import App
    from mlops.serve.metrics import Metrics

    app = App(MODEL, "v", Metrics(MODEL, "v", "sha256:" + "0" * 64, 4))

    async def main() -> tuple[float, float, float]:
        watcher = asyncio.create_task(app.watch_lag(interval=0.005))
        await asyncio.sleep(0.05)
        idle = app.lag
        time.sleep(0.1)  # one pause: not sustained, not counted
        await asyncio.sleep(0.001)
        paused = app.lag
        loop = asyncio.get_running_loop()
        busy_until = time.monotonic() + 0.4

        def busy() -> None:  # every loop iteration takes 30 ms: a saturated loop
            time.sleep(0.03)
            if time.monotonic() < busy_until:
                loop.call_soon(busy)

        busy()
        await asyncio.sleep(0.3)
        saturated = app.lag
        watcher.cancel()
        return idle, paused, saturated

    idle, paused, saturated = asyncio.run(main())
    assert idle < 0.01 and paused < 0.01 and saturated > 0.015


def test_drain_answers_every_admitted_request_and_refuses_new_ones(serve: ServeFn, predictor: Any) -> None:
    gated = Gated(predictor, delay=0.02)
    srv = serve(gated, limits=Limits(max_batch_size=4, max_latency_ms=2, max_queue=64, warmup_runs=1))
    gated.gate.clear()

    async def scenario() -> tuple[list[httpx.Response], httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
            admitted = [asyncio.create_task(client.post(f"/v2/models/{MODEL}/infer", json=infer_body(
                digits_rows(1, seed=i)))) for i in range(12)]
            while srv.app.inflight < 12:
                await asyncio.sleep(0.005)
            srv.runtime.request_stop()
            while srv.app.state != "draining":
                await asyncio.sleep(0.005)
            async with httpx.AsyncClient(base_url=srv.url, timeout=30) as late:
                ready = await late.get("/v2/health/ready")
                refused = await late.post(f"/v2/models/{MODEL}/infer", json=infer_body(digits_rows(1)))
            gated.gate.set()
            return list(await asyncio.gather(*admitted)), ready, refused

    admitted, ready, refused = asyncio.run(scenario())
    assert [r.status_code for r in admitted] == [200] * 12
    assert ready.status_code == 503 and ready.json() == {"ready": False}
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert refused.headers["connection"] == "close" and "shutting down" in refused.json()["error"]
    srv.thread.join(30)
    assert not srv.thread.is_alive() and not srv.errors
    assert srv.app.admitted == srv.app.answered == 12
