"""The Prometheus reader's decisions over a scripted Prometheus: which source wins, what is unknown and why."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mlops.adapters.metrics import MetricsError, Operations, Scope, environment_scope, metrics_source, window_seconds
from mlops.adapters.metrics.prometheus import PROCESS_NOTE, PrometheusSource

SCOPE = Scope("digits-cnn", "v1", {"namespace": "mlops-prod"})
REFUSED = object()


class FakePrometheus:
    """Answers each query by the first rule whose key is in it (a value, "NaN", None for nothing, REFUSED)."""

    def __init__(self, rules: dict[str, Any]) -> None:
        self.rules = rules
        self.queries: list[str] = []
        self.times: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        self.queries.append(query)
        self.times.add(request.url.params["time"])
        for key, value in self.rules.items():
            if key in query:
                if value is REFUSED:
                    return httpx.Response(422, json={"status": "error", "errorType": "execution",
                                                     "error": "query processing would load too many samples"})
                result = [] if value is None else [{"metric": {}, "value": [1.7e9, str(value)]}]
                return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector",
                                                                               "result": result}})
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": []}})


HEALTHY = {  # a local Prometheus scraping mlops serve: no exporter of a cluster
    "count(mlops_model_info": 2.0,
    'code=~"5.."': 0.5,  # the error ratio query (errors or vector(0)) / total
    'mlops_serve_requests_total{namespace="mlops-prod",route="infer"}[': 10.0,
    "mlops_serve_batch_size_sum": 20.0,
    "histogram_quantile(0.5,": 3.0,
    "histogram_quantile(0.99,": 12.0,
    "process_cpu_seconds_total": 0.4,
    "process_resident_memory_bytes": 300.0 * 2**20,
}


def but(overrides: dict[str, Any]) -> dict[str, Any]:
    """HEALTHY where ``overrides`` come first (the first rule that matches a query answers it)."""
    return {**overrides, **{k: v for k, v in HEALTHY.items() if k not in overrides}}


def read(rules: dict[str, Any], **kw: Any) -> tuple[Operations, FakePrometheus]:
    fake = FakePrometheus(rules)
    source = PrometheusSource("http://prom:9090", transport=httpx.MockTransport(fake), attempts=1)
    return source.operations(SCOPE, kw.pop("window", "1h"), at=1.7e9, **kw), fake


def test_a_local_prometheus_gives_performance_process_resources_and_cost() -> None:
    ops, fake = read(HEALTHY, price_per_replica_hour=0.5)
    assert (ops.requests_per_s.value, ops.predictions_per_s.value, ops.error_ratio.value) == (10.0, 20.0, 0.5)
    assert (ops.latency_p50_ms.value, ops.latency_p99_ms.value, ops.replicas.value) == (3.0, 12.0, 2.0)
    assert ops.predictions.value == 20.0 * 3600 and ops.predictions.source == "rate × window"
    assert (ops.cpu_cores.value, ops.cpu_cores.source) == (0.4, "process")
    assert ops.memory_peak_bytes.source == "process" and ops.notes == (PROCESS_NOTE,)
    assert ops.cost_per_1k_predictions.value == pytest.approx(2 * 0.5 * 1 / 72000 * 1000)
    assert set(ops.unknown) == {"cpu_request_share", "cpu_limit_share", "memory_limit_share", "gpu_utilization"}
    assert fake.times == {"1700000000.000"} and len(fake.queries) >= 14  # one instant for every number
    assert ops.cpu_cores.queries[0].startswith("sum(rate(process_cpu_seconds_total")


def test_a_clusters_exporters_win_over_the_process_metrics() -> None:
    ops, _ = read(but({"container_cpu_usage_seconds_total": 0.9, "container_memory_working_set_bytes": 400.0 * 2**20,
                       'kube_pod_container_resource_requests{namespace="mlops-prod",resource="cpu"}': 0.5,
                       'kube_pod_container_resource_limits{namespace="mlops-prod",resource="cpu"}': 0,
                       'kube_pod_container_resource_limits{namespace="mlops-prod",resource="memory"}': 512.0 * 2**20,
                       "DCGM_FI_DEV_GPU_UTIL": 42.0}))
    assert (ops.cpu_cores.value, ops.cpu_cores.source) == (0.9, "cadvisor") and ops.notes == ()
    assert ops.cpu_request_share.value == pytest.approx(0.9 / (0.5 * 2))
    assert ops.cpu_request_share.source == "cadvisor ÷ kube-state-metrics"
    assert ops.unknown["cpu_limit_share"] == "the pods set no CPU limit"
    assert ops.memory_limit_share.value == pytest.approx(400 / 512)
    assert (ops.gpu_utilization.value, ops.gpu_utilization.source) == (42.0, "dcgm")


def test_the_servers_own_gpu_ratio_is_a_percentage() -> None:
    ops, _ = read(but({"mlops_gpu_utilization_ratio": 37.5}))  # the query multiplies by 100
    assert (ops.gpu_utilization.value, ops.gpu_utilization.source) == (37.5, "mlops serve (NVML)")


def test_no_server_of_the_version_makes_every_number_unknown_with_one_reason() -> None:
    ops, fake = read({"count(mlops_model_info": 0.0}, price_per_replica_hour=1.0)
    assert len(fake.queries) == 1 and len(ops.unknown) == 14
    (reason,) = set(ops.unknown.values())
    assert reason.startswith('no server of digits-cnn v1 reported mlops_model_info{namespace="mlops-prod",'
                             'model="digits-cnn",version="v1"} in the last 1h')
    assert ops.price_per_replica_hour == 1.0 and ops.prometheus == "http://prom:9090"


def test_a_refused_query_is_that_numbers_reason() -> None:
    ops, _ = read(but({"histogram_quantile(0.99,": REFUSED, "container_cpu_usage_seconds_total": REFUSED}))
    assert ops.unknown["latency_p99_ms"] == ("Prometheus refused the query (execution): query processing would load "
                                             "too many samples")
    assert ops.latency_p50_ms.value == 3.0
    assert ops.cpu_cores.source == "process"  # the fallback still answers
    replicas_refused, _ = read({"count(mlops_model_info": REFUSED})
    assert set(replicas_refused.unknown.values()) == {"Prometheus refused the query (execution): query processing "
                                                      "would load too many samples"}


def test_nan_and_infinite_latency_and_ratio_say_why() -> None:
    ops, _ = read(but({"histogram_quantile(0.5,": "NaN", "histogram_quantile(0.99,": "+Inf", 'code=~"5.."': "NaN"}))
    assert ops.unknown["latency_p50_ms"] == "no successful inference request in the window"
    assert ops.unknown["latency_p99_ms"] == "above the highest latency bucket (2.5 s)"
    assert ops.unknown["error_ratio"] == "no inference request in the window (0 of 0)"


def test_a_server_that_never_counted_a_request_received_none() -> None:
    rules = but({'code=~"5.."': "NaN", "histogram_quantile": "NaN", "mlops_serve_batch_size_sum": 0.0,
                 'mlops_serve_requests_total{namespace="mlops-prod",route="infer"}': None})
    ops, _ = read(rules, price_per_replica_hour=0.5)
    assert ops.requests_per_s.value == 0.0 and ops.predictions.value == 0.0
    assert {ops.unknown[n] for n in ("error_ratio", "latency_p50_ms", "latency_p99_ms")} == {
        "no inference request in the window"}
    assert ops.unknown["cost_per_1k_predictions"] == "no prediction in the window: the cost per prediction is undefined"


def test_a_counter_with_one_sample_in_the_window_is_not_zero() -> None:
    rules = but({"count(mlops_serve_requests_total": 1.0, "mlops_serve_batch_size_sum": None,
                 'mlops_serve_requests_total{namespace="mlops-prod",route="infer"}[': None})
    ops, _ = read(rules, price_per_replica_hour=0.5)
    assert ops.unknown["requests_per_s"] == "fewer than two scrapes of the request counter in the window"
    assert ops.unknown["predictions"].startswith("no mlops_serve_batch_size_sum")
    assert ops.unknown["cost_per_1k_predictions"].startswith("predictions unknown: no mlops_serve_batch_size_sum")


def test_nothing_at_all_is_unknown_everywhere_never_zero() -> None:
    ops, _ = read({"count(mlops_model_info": 1.0, "count(mlops_serve_requests_total": 1.0})
    assert set(ops.unknown) == {"cpu_cores", "cpu_request_share", "cpu_limit_share", "memory_peak_bytes",
                                "memory_limit_share", "gpu_utilization", "requests_per_s", "predictions_per_s",
                                "error_ratio", "latency_p50_ms", "latency_p99_ms", "predictions",
                                "cost_per_1k_predictions"}
    assert "neither cAdvisor's container_cpu_usage_seconds_total" in ops.unknown["cpu_cores"]
    assert ops.unknown["cpu_request_share"] == ("usage unknown: no CPU series: neither cAdvisor's "
                                                "container_cpu_usage_seconds_total for the version's pods nor the "
                                                "servers' process_cpu_seconds_total")


def test_an_unusable_prometheus_raises_one_error() -> None:
    source = PrometheusSource("http://u:pw@prom:9090", transport=httpx.MockTransport(
        lambda r: httpx.Response(403, text="forbidden")), attempts=1)
    with pytest.raises(MetricsError, match=r"^prometheus:1:1: Prometheus at http://prom:9090: refused access"):
        source.operations(SCOPE, "1h")
    assert repr(source) == "PrometheusSource('http://prom:9090')"


def test_without_a_url_every_number_says_to_configure_prometheus() -> None:
    source = metrics_source(None)
    ops = source.operations(SCOPE, 600, at=5.0, price_per_replica_hour=0.1)
    assert source.url == "" and ops.window == "600s" and ops.window_s == 600 and ops.at == 5.0
    assert set(ops.unknown.values()) == {"no Prometheus: set monitoring.prometheus_url in the environment file"}
    source.close()


def test_the_factory_reads_a_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_PROMETHEUS_TOKEN", "tok")
    source = metrics_source("http://prom:9090/")
    assert isinstance(source, PrometheusSource) and source.url == "http://prom:9090"
    assert source._client._client.headers["authorization"] == "Bearer tok"
    source.close()


def test_windows_and_scopes() -> None:
    assert window_seconds("1h") == 3600 and window_seconds(90) == 90
    with pytest.raises(ValueError):
        window_seconds(0)
    from mlops.core.spec.environment import Environment

    cluster = Environment(name="prod", target="kubernetes", kubernetes={"version": "1.31", "namespace": "ml"},
                          delivery={"mode": "push"})
    assert environment_scope(cluster, "m", "v") == Scope("m", "v", {"namespace": "ml"})
    served_here = Environment(name="dev", target="kubernetes", kubernetes={"version": "1.31", "namespace": "ml"})
    assert environment_scope(served_here, "m", "v") == Scope("m", "v", {})  # delivery local: this machine
    assert environment_scope(Environment(name="dev", target="local"), "m", "v") == Scope("m", "v", {})
