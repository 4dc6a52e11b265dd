"""The PromQL building blocks (mlops.core.promql) and the query behind each number of Operations."""

from __future__ import annotations

import pytest

from mlops.adapters.metrics.operations import Scope
from mlops.adapters.metrics.queries import Queries, step_s
from mlops.core import promql

NS = {"namespace": "mlops-prod"}
INFO = 'mlops_model_info{namespace="mlops-prod",model="digits-cnn",version="v1"}'
EVER = f"max_over_time({INFO}[1h])"


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("1h", 3600), ("1h30m", 5400), ("2d", 172800),
                                               ("1w", 604800), (" 5m ", 300)])
def test_durations_parse_as_prometheus_writes_them(text: str, seconds: int) -> None:
    assert promql.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "h", "1.5h", "-1h", "0s", "1y", "1h 30m", "1H"])
def test_a_bad_duration_says_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        promql.parse_duration(text)


def test_the_environment_selector_comes_first_and_values_are_escaped() -> None:
    assert promql.series("m", {"namespace": 'a"b\\c'}, route="infer", code="=~5..") == \
        'm{namespace="a\\"b\\\\c",route="infer",code=~"5.."}'
    assert promql.model_info({}, "digits-cnn") == 'mlops_model_info{model="digits-cnn"}'


def test_one_versions_total_joins_its_targets_now_or_over_the_window() -> None:
    now = promql.of_version("rate", "x_total", "5m", NS, "digits-cnn", "v1", route="infer")
    assert now == f'sum(rate(x_total{{namespace="mlops-prod",route="infer"}}[5m]) and on (job, instance) {INFO})'
    ever = promql.of_version("max_over_time", "rss", "1h", NS, "digits-cnn", "v1", over="1h", agg="max")
    assert ever == f'max(max_over_time(rss{{namespace="mlops-prod"}}[1h]) and on (job, instance) {EVER})'


def test_error_ratio_and_quantiles_are_the_renders_with_an_optional_window_join() -> None:
    from mlops.render import promql as rendered

    assert promql.error_ratio(NS, "digits-cnn", "v1", "2m") == rendered.error_ratio("mlops-prod", "digits-cnn", "v1",
                                                                                     "2m")
    assert promql.latency_quantile_ms(0.99, NS, "digits-cnn", "v1", "2m") == rendered.latency_p99_ms(
        "mlops-prod", "digits-cnn", "v1", "2m")
    p50 = promql.latency_quantile_ms(0.5, NS, "digits-cnn", "v1", "1h", over="1h")
    assert p50.startswith("1000 * histogram_quantile(0.5, sum by (le) (") and EVER in p50
    assert promql.error_ratio(NS, "digits-cnn", "v1", "1h", over="1h").count(EVER) == 2


def test_about_sixty_subquery_points_per_window() -> None:
    assert [step_s(s) for s in (10, 60, 3600, 86400)] == [1, 1, 60, 1440]


def queries() -> Queries:
    return Queries(Scope("digits-cnn", "v1", {"namespace": "mlops-prod", "cluster": "eu-1"}), 3600)


def test_the_servers_own_metrics_join_on_the_target_with_every_scope_label() -> None:
    q = queries()
    scope = 'namespace="mlops-prod",cluster="eu-1"'
    assert q.requests_per_s() == (f'sum(rate(mlops_serve_requests_total{{{scope},route="infer"}}[1h]) and on (job, '
                                  f'instance) max_over_time(mlops_model_info{{{scope},model="digits-cnn",'
                                  'version="v1"}[1h]))')
    assert q.predictions_per_s().startswith(f"sum(rate(mlops_serve_batch_size_sum{{{scope}}}[1h])")
    assert q.cpu_cores_process().startswith(f"sum(rate(process_cpu_seconds_total{{{scope}}}[1h])")
    assert q.memory_peak_process().startswith(f"max(max_over_time(process_resident_memory_bytes{{{scope}}}[1h])")
    assert q.gpu_own().startswith(f"100 * avg(avg_over_time(mlops_gpu_utilization_ratio{{{scope}}}[1h])")
    assert q.replicas() == (f'avg_over_time((count(mlops_model_info{{{scope},model="digits-cnn",version="v1"}}) '
                            "or vector(0))[1h:1m])")


def test_exporter_series_are_narrowed_by_namespace_only_and_join_on_the_pod() -> None:
    q = queries()
    join = ('and on (namespace, pod) max_over_time(mlops_model_info{namespace="mlops-prod",cluster="eu-1",'
            'model="digits-cnn",version="v1"}[1h])')
    cpu = q.cpu_cores_cadvisor()
    assert cpu == ('sum(rate(container_cpu_usage_seconds_total{namespace="mlops-prod",container!~"POD|"}[1h]) '
                   f"{join})")
    assert q.memory_peak_cadvisor() == (
        "max(sum by (namespace, pod) (max by (namespace, pod, container) (max_over_time("
        f'container_memory_working_set_bytes{{namespace="mlops-prod",container!~"POD|"}}[1h]))) {join})')
    assert q.per_replica("kube_pod_container_resource_requests", "cpu") == (
        "max(sum by (namespace, pod) (max by (namespace, pod, container) (max_over_time("
        f'kube_pod_container_resource_requests{{namespace="mlops-prod",resource="cpu"}}[1h]))) {join})')
    assert q.gpu_dcgm() == f'avg(avg_over_time(DCGM_FI_DEV_GPU_UTIL{{namespace="mlops-prod"}}[1h]) {join})'


def test_without_a_namespace_exporter_series_are_not_narrowed() -> None:
    q = Queries(Scope("digits-cnn", "v1"), 90)
    assert q.cpu_cores_cadvisor().startswith('sum(rate(container_cpu_usage_seconds_total{container!~"POD|"}[90s])')
    assert q.info == 'mlops_model_info{model="digits-cnn",version="v1"}' and q.step == "1s"
