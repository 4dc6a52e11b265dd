"""The PromQL behind each number of :class:`~mlops.adapters.metrics.operations.Operations` (pure strings).

Two joins find one version's series:

- the servers' own metrics (``mlops_serve_*``, ``process_*``, ``mlops_gpu_*``) share their scrape target
  with ``mlops_model_info``: ``and on (job, instance)``;
- a cluster's exporters (cAdvisor in the kubelet, kube-state-metrics, NVIDIA's dcgm-exporter) label their
  series with the pod they are about: ``and on (namespace, pod)``, which needs the ``pod`` label the
  Prometheus Operator puts on every target of the ServiceMonitor (and kube-state-metrics and dcgm-exporter
  scraped with ``honorLabels: true``, so their ``namespace``/``pod`` are the workload's, not the exporter's).

The join side is ``max_over_time(mlops_model_info{...}[window])``: every target that served the version at
any time in the window, so a pod scaled down or replaced half-way still counts for what it served. Rates
over the window are time averages; counts over it are ``rate × window`` (what ``increase`` is).
Exporter series are narrowed by the scope's ``namespace`` only: they carry none of our targets' labels.
"""

from __future__ import annotations

from collections.abc import Mapping

from mlops.core import promql
from mlops.core.promql import INFER, REQUESTS, TARGET, of_version, series, version_targets

from .operations import Scope

POD = "namespace, pod"
PREDICTIONS = "mlops_serve_batch_size_sum"  # rows through successful forward passes (warm-up excluded)
PROCESS_CPU = "process_cpu_seconds_total"
PROCESS_MEMORY = "process_resident_memory_bytes"
GPU_UTIL = "mlops_gpu_utilization_ratio"
CADVISOR_CPU = "container_cpu_usage_seconds_total"
CADVISOR_MEMORY = "container_memory_working_set_bytes"
KSM_REQUESTS = "kube_pod_container_resource_requests"
KSM_LIMITS = "kube_pod_container_resource_limits"
DCGM_UTIL = "DCGM_FI_DEV_GPU_UTIL"
CONTAINERS = "!~POD|"  # cAdvisor: real containers only (not the pod's cgroup, container="", nor the pause one)


def step_s(window_s: int) -> int:
    """Subquery resolution: about 60 points per window, never finer than a second."""
    return max(1, window_s // 60)


def _per_pod(selected: str, window: str) -> str:
    """Per pod, the sum over its containers of each one's highest value in the window. A container appears
    once however many series it left (a restarted container in cAdvisor, a restarted kube-state-metrics)."""
    return f"sum by ({POD}) (max by ({POD}, container) (max_over_time({selected}[{window}])))"


class Queries:
    """The queries of one version over one window."""

    def __init__(self, scope: Scope, window_s: int) -> None:
        self.labels: Mapping[str, str] = dict(scope.labels)
        self.model, self.version = scope.model, scope.version
        self.w = promql.duration(window_s)
        self.step = promql.duration(step_s(window_s))
        self.pods = {k: v for k, v in self.labels.items() if k == "namespace"}

    @property
    def info(self) -> str:
        return promql.model_info(self.labels, self.model, self.version)

    @property
    def targets(self) -> str:
        """Every target that served the version in the window."""
        return version_targets(self.labels, self.model, self.version, self.w)

    def _own(self, fn: str, metric: str, agg: str = "sum", **match: str) -> str:
        return of_version(fn, metric, self.w, self.labels, self.model, self.version, over=self.w, agg=agg, **match)

    def _pods(self, expr: str) -> str:
        return f"{expr} and on ({POD}) {self.targets}"

    # -- cost and presence ---------------------------------------------------------------------

    def replicas(self) -> str:
        """Servers of the version, averaged over the window (0 where none ran)."""
        return f"avg_over_time((count({self.info}) or vector(0))[{self.w}:{self.step}])"

    # -- performance ---------------------------------------------------------------------------

    def requests_per_s(self) -> str:
        return self._own("rate", REQUESTS, route=INFER)

    def predictions_per_s(self) -> str:
        return self._own("rate", PREDICTIONS)

    def error_ratio(self) -> str:
        return promql.error_ratio(self.labels, self.model, self.version, self.w, over=self.w)

    def latency_ms(self, quantile: float) -> str:
        return promql.latency_quantile_ms(quantile, self.labels, self.model, self.version, self.w, over=self.w)

    def has_request_series(self) -> str:
        """Whether the servers counted any inference request (they create the series at the first one)."""
        return f"count({series(REQUESTS, self.labels, route=INFER)} and on ({TARGET}) {self.targets})"

    # -- infrastructure ------------------------------------------------------------------------

    def cpu_cores_cadvisor(self) -> str:
        cpu = series(CADVISOR_CPU, self.pods, container=CONTAINERS)
        return f"sum({self._pods(f'rate({cpu}[{self.w}])')})"

    def cpu_cores_process(self) -> str:
        return self._own("rate", PROCESS_CPU)

    def memory_peak_cadvisor(self) -> str:
        """The largest pod's peak: the sum of its containers' peaks (every sample counts, short spikes too)."""
        return f"max({self._pods(_per_pod(series(CADVISOR_MEMORY, self.pods, container=CONTAINERS), self.w))})"

    def memory_peak_process(self) -> str:
        return self._own("max_over_time", PROCESS_MEMORY, agg="max")

    def per_replica(self, metric: str, resource: str) -> str:
        """What one pod of the version requests (limits): its containers' sum (all pods share one template)."""
        return f"max({self._pods(_per_pod(series(metric, self.pods, resource=resource), self.w))})"

    def gpu_dcgm(self) -> str:
        util = series(DCGM_UTIL, self.pods)
        return f"avg({self._pods(f'avg_over_time({util}[{self.w}])')})"

    def gpu_own(self) -> str:
        return "100 * " + self._own("avg_over_time", GPU_UTIL, agg="avg")


__all__ = ["CADVISOR_CPU", "CADVISOR_MEMORY", "DCGM_UTIL", "GPU_UTIL", "KSM_LIMITS", "KSM_REQUESTS", "PREDICTIONS",
           "PROCESS_CPU", "PROCESS_MEMORY", "Queries", "step_s"]
