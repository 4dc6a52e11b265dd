"""The Prometheus reader of the operations layers: the queries of :mod:`.queries`, read into :class:`Operations`.

Every query is evaluated at one instant (``at``), so the numbers of one report agree with each other.
Where a number has two sources, the cluster's exporter wins and the servers' own metrics are the fallback:

- CPU and memory: cAdvisor (the kubelet) per container, else ``process_*`` of the ``mlops serve`` processes
  (which also works for servers a local Prometheus scrapes); the report notes which;
- GPU: dcgm-exporter's ``DCGM_FI_DEV_GPU_UTIL``, else the servers' ``mlops_gpu_utilization_ratio``;
- requests and limits (for the shares): kube-state-metrics only — unknown anywhere else, and said so.

A missing series is unknown with a reason, never 0. The one exception is a fact, not a guess: a server that
reports its version but never counted an inference request received none (it creates the series at the
first), so its throughput is 0 — while its error ratio and latency are unknown (nothing to measure).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from mlops.core.promql import LATENCY_BUCKET, duration

from . import window_seconds
from .client import PrometheusClient, QueryRefused
from .operations import Operations, Reading, Scope, cost_per_1k
from .queries import (
    CADVISOR_CPU,
    DCGM_UTIL,
    GPU_UTIL,
    KSM_LIMITS,
    KSM_REQUESTS,
    PREDICTIONS,
    PROCESS_CPU,
    Queries,
)

PROCESS_NOTE = ("CPU and memory come from the servers' own process metrics (process_cpu_seconds_total, "
                "process_resident_memory_bytes): no cAdvisor series for these pods")


@dataclass(frozen=True)
class _Value:
    value: float | None
    why: str | None  # "empty", "nan", "inf", or Prometheus' refusal


class PrometheusSource:
    """A :class:`~mlops.adapters.metrics.MetricsSource` over Prometheus' HTTP API."""

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 10.0, attempts: int = 3,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = PrometheusClient(url, token=token, timeout=timeout, attempts=attempts, transport=transport,
                                        sleep=sleep)
        self.url = self._client.url

    def __repr__(self) -> str:
        return f"PrometheusSource({self.url!r})"

    def close(self) -> None:
        self._client.close()

    def _one(self, promql: str, at: float) -> _Value:
        try:
            samples = self._client.query(promql, at)
        except QueryRefused as exc:
            return _Value(None, str(exc))
        if not samples:
            return _Value(None, "empty")
        if len(samples) > 1:
            return _Value(None, f"{len(samples)} series where one was expected")
        value = samples[0].value
        if math.isnan(value):
            return _Value(None, "nan")
        return _Value(value, None) if math.isfinite(value) else _Value(None, "inf")

    def operations(self, scope: Scope, window: str | int = "1h", *, price_per_replica_hour: float | None = None,
                   at: float | None = None) -> Operations:
        window_s = window_seconds(window)
        at = time.time() if at is None else at
        q = Queries(scope, window_s)
        w = duration(window_s)
        replicas_q = q.replicas()
        replicas = self._one(replicas_q, at)
        if replicas.value is None or replicas.value <= 0:
            why = (f"no server of {scope.model} {scope.version} reported {q.info} in the last {w}: it does not "
                   "serve there, or this Prometheus does not scrape it")
            if replicas.why not in (None, "empty", "nan", "inf"):
                why = str(replicas.why)
            return Operations.unavailable(scope, w, window_s, at, why, prometheus=self.url,
                                          price_per_replica_hour=price_per_replica_hour)
        notes: list[str] = []
        perf = self._performance(q, at, window_s)
        infra = self._infrastructure(q, at, replicas.value, notes)
        replicas_r = Reading(replicas.value, "replicas", "mlops_model_info", None, (replicas_q,))
        cost = cost_per_1k(replicas_r, perf["predictions"], price_per_replica_hour, window_s)
        return Operations.of(scope, w, window_s, at, {**perf, **infra, "replicas": replicas_r,
                                                      "cost_per_1k_predictions": cost},
                             prometheus=self.url, price_per_replica_hour=price_per_replica_hour, notes=tuple(notes))

    # -- performance -----------------------------------------------------------------------------

    def _performance(self, q: Queries, at: float, window_s: int) -> dict[str, Reading]:
        out: dict[str, Reading] = {}
        req_q = q.requests_per_s()
        req = self._one(req_q, at)
        if req.why == "empty":
            listed = self._one(q.has_request_series(), at)
            if listed.why == "empty":
                out["requests_per_s"] = Reading(0.0, "req/s", "mlops serve: no inference request counted", None,
                                                (req_q, q.has_request_series()))
        if "requests_per_s" not in out:
            out["requests_per_s"] = _reading(req, "req/s", "mlops serve", (req_q,),
                                             empty="fewer than two scrapes of the request counter in the window")
        pred_q = q.predictions_per_s()
        pred = self._one(pred_q, at)
        out["predictions_per_s"] = _reading(pred, "predictions/s", "mlops serve", (pred_q,),
                                            empty=f"no {PREDICTIONS} (rows predicted) for the version's servers, "
                                                  "or fewer than two scrapes in the window")
        per_s = out["predictions_per_s"]
        out["predictions"] = (
            Reading(per_s.value * window_s, "predictions", "rate × window", None, (pred_q,))
            if per_s.value is not None else Reading.unknown("predictions", per_s.reason or "", (pred_q,)))
        none = out["requests_per_s"].value == 0
        ratio_q = q.error_ratio()
        out["error_ratio"] = _reading(self._one(ratio_q, at), "ratio", "mlops serve", (ratio_q,),
                                      empty="no inference request in the window",
                                      nan="no inference request in the window (0 of 0)")
        for quantile, name in ((0.5, "latency_p50_ms"), (0.99, "latency_p99_ms")):
            lat_q = q.latency_ms(quantile)
            out[name] = _reading(self._one(lat_q, at), "ms", "mlops serve", (lat_q,),
                                 empty=f"no {LATENCY_BUCKET} samples in the window",
                                 nan="no successful inference request in the window",
                                 inf="above the highest latency bucket (2.5 s)")
        if none:
            for name in ("error_ratio", "latency_p50_ms", "latency_p99_ms"):
                out[name] = Reading.unknown(out[name].unit, "no inference request in the window", out[name].queries)
        return out

    # -- infrastructure --------------------------------------------------------------------------

    def _first(self, at: float, unit: str, *tries: tuple[str, str], missing: str) -> Reading:
        """The first of (query, source) that has a value; else unknown with ``missing`` (or the refusal)."""
        refused = None
        for promql, source in tries:
            got = self._one(promql, at)
            if got.value is not None:
                return Reading(got.value, unit, source, None, (promql,))
            if got.why not in ("empty", "nan"):
                refused = got.why
        return Reading.unknown(unit, refused or missing, tuple(p for p, _ in tries))

    def _infrastructure(self, q: Queries, at: float, replicas: float, notes: list[str]) -> dict[str, Reading]:
        cpu = self._first(at, "cores", (q.cpu_cores_cadvisor(), "cadvisor"), (q.cpu_cores_process(), "process"),
                          missing=f"no CPU series: neither cAdvisor's {CADVISOR_CPU} for the version's pods nor "
                                  f"the servers' {PROCESS_CPU}")
        memory = self._first(at, "bytes", (q.memory_peak_cadvisor(), "cadvisor"),
                             (q.memory_peak_process(), "process"),
                             missing="no memory series: neither cAdvisor's container_memory_working_set_bytes for "
                                     "the version's pods nor the servers' process_resident_memory_bytes")
        if "process" in (cpu.source, memory.source):
            notes.append(PROCESS_NOTE)
        ksm = "kube-state-metrics"
        request = self._first(at, "cores", (q.per_replica(KSM_REQUESTS, "cpu"), ksm),
                              missing=f"no {KSM_REQUESTS}{{resource=\"cpu\"}} for the version's pods "
                                      "(kube-state-metrics, in a cluster)")
        limit = self._first(at, "cores", (q.per_replica(KSM_LIMITS, "cpu"), ksm),
                            missing=f"no {KSM_LIMITS}{{resource=\"cpu\"}} for the version's pods "
                                    "(kube-state-metrics, in a cluster; or the pods set no CPU limit)")
        mem_limit = self._first(at, "bytes", (q.per_replica(KSM_LIMITS, "memory"), ksm),
                                missing=f"no {KSM_LIMITS}{{resource=\"memory\"}} for the version's pods "
                                        "(kube-state-metrics, in a cluster; or the pods set no memory limit)")
        gpu = self._first(at, "percent", (q.gpu_dcgm(), "dcgm"), (q.gpu_own(), "mlops serve (NVML)"),
                          missing=f"no GPU series: no {DCGM_UTIL} for the version's pods (dcgm-exporter) and its "
                                  f"servers export no {GPU_UTIL} (they see no GPU, or NVML is missing)")
        return {"cpu_cores": cpu, "memory_peak_bytes": memory, "gpu_utilization": gpu,
                "cpu_request_share": _share(cpu, request, replicas, "CPU request"),
                "cpu_limit_share": _share(cpu, limit, replicas, "CPU limit"),
                "memory_limit_share": _share(memory, mem_limit, 1.0, "memory limit")}


def _reading(got: _Value, unit: str, source: str, queries: tuple[str, ...], *, empty: str,
             nan: str = "not a number", inf: str = "infinite") -> Reading:
    if got.value is not None:
        return Reading(got.value, unit, source, None, queries)
    why = {"empty": empty, "nan": nan, "inf": inf}.get(got.why or "", got.why or empty)
    return Reading.unknown(unit, why, queries)


def _share(used: Reading, per_replica: Reading, replicas: float, what: str) -> Reading:
    """``used`` ÷ (``per_replica`` × ``replicas``): how much of what the pods asked for they use."""
    queries = used.queries + per_replica.queries
    if used.value is None:
        return Reading.unknown("ratio", f"usage unknown: {used.reason}", queries)
    if per_replica.value is None:
        return Reading.unknown("ratio", per_replica.reason or "", queries)
    if per_replica.value <= 0:
        return Reading.unknown("ratio", f"the pods set no {what}", queries)
    source = f"{used.source} ÷ {per_replica.source}"
    return Reading(used.value / (per_replica.value * replicas), "ratio", source, None, queries)
