"""The monitor's infrastructure and performance layers read from a real Prometheus (Debian's ``prometheus``).

Live: two real ``mlops serve`` processes (tests/helpers/prometheus.py) — a healthy digits CNN and a version
that fails every input holding a 16 — get the same traffic (half the rows hold a 16) while Prometheus
scrapes them every second, labelled as the Prometheus Operator labels a ServiceMonitor's targets. The
reader must give each version its throughput, error ratio, latency, the servers' own CPU and memory (no
cAdvisor here, and it says so), the cost per 1,000 predictions from a price, and a reason for everything it
cannot know (requests and limits, GPU). A window before the traffic shows an idle version: 0 requests/s,
no error ratio, no cost.

Cluster: Prometheus started on TSDB blocks backfilled (``promtool tsdb create-blocks-from openmetrics``)
with series shaped like a cluster's exporters (cAdvisor, kube-state-metrics, dcgm-exporter) and our servers'
metrics, over an hour in which a second pod joins half-way: the exporters' numbers win over the process
metrics, containers that are not the workload's are excluded, and every number is the expected one.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from mlops.adapters.metrics import MetricsError, Operations, Reading, Scope, metrics_source
from tests.helpers.prometheus import (
    MODEL,
    Process,
    Prom,
    address,
    broken_artifact,
    free_port,
    half_with_16,
    scrape_targets,
    send,
    serve,
    start_prometheus,
    wait_ready,
)
from tests.helpers.serve import build_artifact, write_record

pytestmark = pytest.mark.skipif(shutil.which("prometheus") is None or shutil.which("promtool") is None,
                                reason="prometheus is not installed (Debian: apt-get install prometheus)")
NS = "mlops-prod"
REQUESTS = 120  # per server
PRICE = 0.36  # per replica-hour


def _gpu_visible() -> bool:
    import torch

    return bool(torch.cuda.is_available())


GPU = _gpu_visible()  # the servers run on this machine: with a GPU they export it


@dataclass
class Live:
    prom: Prom
    versions: dict[str, str]  # good/bad → version
    window_s: int  # the whole time both servers were scraped, traffic included
    at: float
    idle_at: float  # the end of a 3 s window with both servers up and no traffic yet
    codes: dict[str, Counter[int]]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("monitor-live")
    started: list[Process] = []
    try:
        build_artifact(tmp / "good")
        versions = {"good": str(write_record(tmp / "good", tmp / "good.yaml").version)}
        started.append(serve(tmp / "good", tmp / "good.yaml"))  # loads while the broken version is built
        broken_artifact(tmp / "bad")
        versions["bad"] = str(write_record(tmp / "bad", tmp / "bad.yaml").version)
        started.append(serve(tmp / "bad", tmp / "bad.yaml"))
        servers = {name: address(process) for name, process in zip(("good", "bad"), started, strict=True)}
        prom = start_prometheus(tmp, [{"job_name": MODEL, "static_configs": scrape_targets(servers, NS)}], started)
        wait_ready(servers)
        prom.wait_for(f'count(mlops_model_info{{namespace="{NS}"}})', [2.0])
        first = time.time()
        time.sleep(4)
        idle_at = time.time() - 0.5
        codes = send(servers, half_with_16(REQUESTS), seconds=5)
        prom.wait_for(f'sum(mlops_serve_requests_total{{route="infer",namespace="{NS}"}})', [2.0 * REQUESTS])
        time.sleep(1.5)
        at = time.time()
        yield Live(prom, versions, int(at - first) - 1, at, idle_at, codes)
    finally:
        for process in reversed(started):
            process.stop()


def read(live: Live, name: str, window: str | int | None = None, at: float | None = None,
         price: float | None = None) -> Operations:
    source = metrics_source(live.prom.url)
    try:
        return source.operations(Scope(MODEL, live.versions[name], {"namespace": NS}), window or live.window_s,
                                 at=at or live.at, price_per_replica_hour=price)
    finally:
        source.close()


def v(reading: Reading) -> float:
    assert reading.value is not None, reading.reason
    return reading.value


@pytest.mark.slow
def test_throughput_errors_latency_resources_and_cost_of_a_healthy_and_a_failing_version(live: Live) -> None:
    assert live.codes == {"good": Counter({200: REQUESTS}), "bad": Counter({200: REQUESTS // 2, 500: REQUESTS // 2})}
    good, bad = read(live, "good", price=PRICE), read(live, "bad", price=PRICE)
    for ops, predicted in ((good, REQUESTS), (bad, REQUESTS // 2)):
        said = f"window {live.window_s}s:\n{ops.text()}"  # what a failure shows
        assert ops.window == f"{live.window_s}s" and ops.at == live.at and ops.prometheus == live.prom.url
        # a scrape that misses its 1 s deadline on a loaded machine marks the target stale for a moment
        assert v(ops.replicas) == pytest.approx(1.0, abs=0.1), said
        # rates are time averages over the window: × window = the requests (and rows) it saw, give or take
        # Prometheus' extrapolation to the window's edges
        assert v(ops.requests_per_s) * live.window_s == pytest.approx(REQUESTS, rel=0.2), said
        assert v(ops.predictions) == pytest.approx(predicted, rel=0.2), said
        assert v(ops.predictions) == pytest.approx(v(ops.predictions_per_s) * live.window_s)
        assert 0 < v(ops.latency_p50_ms) <= v(ops.latency_p99_ms) < 1000, said
        # no cAdvisor here: the servers' own process metrics, and the report says so
        assert ops.cpu_cores.source == ops.memory_peak_bytes.source == "process", said
        assert 0 < v(ops.cpu_cores) < 4, said
        assert 50 << 20 < v(ops.memory_peak_bytes) < 4 << 30, said
        assert any("process metrics" in note and "no cAdvisor" in note for note in ops.notes)
        expected = v(ops.replicas) * PRICE * live.window_s / 3600 / v(ops.predictions) * 1000
        assert ops.cost_per_1k_predictions.value == pytest.approx(expected)
        assert ops.price_per_replica_hour == PRICE
        # what only a cluster's exporters know is unknown, with the reason, never 0
        assert set(ops.unknown) - {"gpu_utilization"} == {"cpu_request_share", "cpu_limit_share",
                                                          "memory_limit_share"}
        assert "kube_pod_container_resource_requests" in ops.unknown["cpu_request_share"]
        assert "kube-state-metrics" in ops.unknown["memory_limit_share"]
        if not GPU:
            assert "DCGM_FI_DEV_GPU_UTIL" in ops.unknown["gpu_utilization"]
            assert "mlops_gpu_utilization_ratio" in ops.unknown["gpu_utilization"]
        else:  # the servers see the GPU: its utilisation, when NVML (nvidia-ml-py) is installed
            assert ops.gpu_utilization.source == "mlops serve (NVML)" or "NVML" in ops.unknown["gpu_utilization"]
    assert good.error_ratio.value == 0.0
    assert bad.error_ratio.value == pytest.approx(0.5, abs=0.1), bad.text()
    assert good.to_dict()["performance"]["error_ratio"]["value"] == 0.0
    assert bad.to_dict()["unknown"]["gpu_utilization"] == bad.gpu_utilization.reason


@pytest.mark.slow
def test_an_idle_window_has_no_requests_and_no_ratio_latency_or_cost(live: Live) -> None:
    ops = read(live, "good", window="3s", at=live.idle_at, price=PRICE)
    assert 0.5 < v(ops.replicas) <= 1.0, ops.text()
    assert ops.requests_per_s.value == 0.0 and "no inference request" in ops.requests_per_s.source
    assert ops.predictions.value == 0.0
    for name in ("error_ratio", "latency_p50_ms", "latency_p99_ms"):
        assert ops.unknown[name] == "no inference request in the window"
    assert ops.unknown["cost_per_1k_predictions"].startswith("no prediction in the window")


@pytest.mark.slow
def test_no_price_a_version_nobody_serves_and_a_wrong_namespace_are_unknown_with_reasons(live: Live) -> None:
    ops = read(live, "good")
    assert ops.cost_per_1k_predictions.value is None and ops.requests_per_s.value is not None
    assert "monitoring.price_per_replica_hour" in ops.unknown["cost_per_1k_predictions"]
    source = metrics_source(live.prom.url)
    try:
        gone = source.operations(Scope(MODEL, "20250101-deadbeef", {"namespace": NS}), live.window_s, at=live.at,
                                 price_per_replica_hour=PRICE)
        elsewhere = source.operations(Scope(MODEL, live.versions["good"], {"namespace": "mlops-dev"}), "1m",
                                      at=live.at)
    finally:
        source.close()
    for ops in (gone, elsewhere):
        assert all(ops.reading(n).value is None for n in ops.unknown) and len(ops.unknown) == 14
        assert all(reason.startswith(f"no server of {MODEL} ") for reason in ops.unknown.values())
    assert 'namespace="mlops-dev"' in elsewhere.unknown["cpu_cores"]


@pytest.mark.slow
def test_the_servers_export_process_metrics_and_gpu_metrics_only_with_a_gpu(live: Live) -> None:
    assert live.prom.values(f'count(process_cpu_seconds_total{{namespace="{NS}"}})') == [2.0]
    assert live.prom.values(f'count(process_resident_memory_bytes{{namespace="{NS}"}})') == [2.0]
    gpu_series = live.prom.query(f'count({{__name__="mlops_gpu_memory_total_bytes",namespace="{NS}"}})')
    assert gpu_series == [] if not GPU else [float(s["value"][1]) for s in gpu_series] == [2.0]


def test_an_unreachable_prometheus_is_one_line_without_credentials() -> None:
    port = free_port()
    source = metrics_source(f"http://monitor:s3cret@127.0.0.1:{port}/", attempts=2)
    with pytest.raises(MetricsError) as caught:
        source.operations(Scope(MODEL, "v1", {"namespace": NS}), "1h")
    message = str(caught.value)
    assert f"http://127.0.0.1:{port}" in message and "cannot be reached" in message and "\n" not in message
    assert "s3cret" not in message and "monitor" not in message.split("cannot")[0] and "s3cret" not in repr(source)


# -- a cluster's exporters, backfilled -----------------------------------------------------------------

V1, V2 = "20250101-00000001", "20250101-00000002"
HOUR = 3600
STEP = 15  # scrape interval of the backfilled series


def _line(name: str, labels: dict[str, str], value: float, t: float) -> str:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{body}}} {value!r} {t:.3f}"


def cluster_series(end: float) -> str:
    """Pods a (V1, the whole hour), b (V1, its second half), c (V2); exporters and servers as in a cluster,
    with the duplicates a cluster has (a restarted container's old series, a restarted kube-state-metrics')
    and a 15 s memory spike of pod a half-way."""
    pods = {"a": (V1, end - HOUR - 600), "b": (V1, end - HOUR / 2), "c": (V2, end - HOUR - 600)}
    lines: list[str] = []
    for pod, (version, since) in pods.items():
        target = {"job": MODEL, "instance": f"10.0.0.{ord(pod)}:8080", "namespace": NS, "pod": f"{MODEL}-{pod}"}
        kubelet = {"job": "kubelet", "instance": "node-1", "namespace": NS, "pod": f"{MODEL}-{pod}"}
        ksm = {"job": "kube-state-metrics", "namespace": NS, "pod": f"{MODEL}-{pod}", "container": "server"}
        errors = 1.0 if pod == "a" else 0.0
        ok = 9.0 if pod == "a" else 10.0
        t = since
        while t <= end + 1e-6:
            s = t - since
            lines += [
                _line("mlops_model_info", {**target, "model": MODEL, "version": version, "digest": "sha256:0"}, 1, t),
                _line("mlops_serve_requests_total", {**target, "route": "infer", "code": "200"}, ok * s, t),
                _line("mlops_serve_requests_total", {**target, "route": "infer", "code": "500"}, errors * s, t),
                _line("mlops_serve_batch_size_sum", target, ok * s, t),
                _line("process_cpu_seconds_total", target, 0.2 * s, t),
                _line("process_resident_memory_bytes", target, 250 * 2**20, t),
                _line("container_cpu_usage_seconds_total", {**kubelet, "container": "server"}, 0.25 * s, t),
                _line("container_cpu_usage_seconds_total", {**kubelet, "container": ""}, 0.3 * s, t),  # the pod
                _line("container_cpu_usage_seconds_total", {**kubelet, "container": "POD"}, 0.001 * s, t),
                _line("container_memory_working_set_bytes", {**kubelet, "container": "server"},
                      (400 if pod == "a" and abs(s - 1800) < STEP else 300) * 2**20, t),
                _line("container_memory_working_set_bytes", {**kubelet, "container": ""}, 900 * 2**20, t),
                # the same container before a restart: another cgroup id, another series
                _line("container_memory_working_set_bytes", {**kubelet, "container": "server", "id": "/old"},
                      200 * 2**20, t),
                _line("kube_pod_container_resource_requests", {**ksm, "resource": "cpu", "unit": "core"}, 0.5, t),
                # kube-state-metrics restarted elsewhere: the same container's request, a second series
                _line("kube_pod_container_resource_requests",
                      {**ksm, "instance": "10.9.9.9:8080", "resource": "cpu", "unit": "core"}, 0.5, t),
                _line("kube_pod_container_resource_limits", {**ksm, "resource": "cpu", "unit": "core"}, 1.0, t),
                _line("kube_pod_container_resource_limits", {**ksm, "resource": "memory", "unit": "byte"},
                      512 * 2**20, t),
                _line("DCGM_FI_DEV_GPU_UTIL", {"job": "dcgm", "gpu": "0", "namespace": NS, "pod": f"{MODEL}-{pod}",
                                               "container": "server"}, 40.0 if pod == "a" else 60.0, t),
            ]
            for le in ("0.003", "0.005", "+Inf"):
                lines.append(_line("mlops_serve_request_seconds_bucket", {**target, "le": le},
                                   0.0 if le == "0.003" else ok * s, t))
            t += STEP
    lines.sort(key=lambda line: (line.rsplit(" ", 2)[0], float(line.rsplit(" ", 1)[1])))
    return "\n".join([*lines, "# EOF", ""])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prom, float]]:
    tmp = tmp_path_factory.mktemp("monitor-cluster")
    end = math.floor(time.time() / STEP) * STEP - HOUR  # an hour ago: whole blocks, nothing in the head
    (tmp / "series.om").write_text(cluster_series(end))
    made = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(tmp / "series.om"),
                           str(tmp / "tsdb")], capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stdout + made.stderr
    started: list[Process] = []
    try:
        yield start_prometheus(tmp, [], started), end
    finally:
        for process in started:
            process.stop()


def test_a_clusters_exporters_win_and_every_number_is_the_expected_one(cluster: tuple[Prom, float]) -> None:
    prom, end = cluster
    source = metrics_source(prom.url)
    try:
        v1 = source.operations(Scope(MODEL, V1, {"namespace": NS}), "1h", at=end, price_per_replica_hour=PRICE)
        v2 = source.operations(Scope(MODEL, V2, {"namespace": NS}), "1h", at=end, price_per_replica_hour=PRICE)
    finally:
        source.close()
    approx = {"rel": 0.03}
    assert v1.unknown == {} and v1.notes == ()
    assert v1.replicas.value == pytest.approx(1.5, **approx)  # b served half the hour
    assert v1.requests_per_s.value == pytest.approx(10 + 10 / 2, **approx)
    assert v1.error_ratio.value == pytest.approx(1 / 15, **approx)
    assert v1.predictions_per_s.value == pytest.approx(9 + 10 / 2, **approx)
    assert v1.latency_p50_ms.value == pytest.approx(4.0, **approx)  # linear within the (3, 5] ms bucket
    assert v1.latency_p99_ms.value == pytest.approx(4.98, **approx)
    assert (v1.cpu_cores.source, v1.cpu_cores.value) == ("cadvisor", pytest.approx(0.25 * 1.5, **approx))
    assert v1.cpu_request_share.value == pytest.approx(0.5, **approx)
    assert v1.cpu_limit_share.value == pytest.approx(0.25, **approx)
    assert (v1.memory_peak_bytes.source, v1.memory_peak_bytes.value) == ("cadvisor", 400 * 2**20)
    assert v1.memory_limit_share.value == pytest.approx(400 / 512)
    assert (v1.gpu_utilization.source, v1.gpu_utilization.value) == ("dcgm", pytest.approx(50.0))
    cost = v(v1.replicas) * PRICE / (v(v1.predictions_per_s) * HOUR) * 1000
    assert v1.cost_per_1k_predictions.value == pytest.approx(cost) and 0.009 < cost < 0.012
    # the other version's pods are not this one's
    assert v2.replicas.value == pytest.approx(1.0, **approx) and v2.error_ratio.value == 0.0
    assert v2.requests_per_s.value == pytest.approx(10, **approx)
    assert v2.gpu_utilization.value == pytest.approx(60.0)
