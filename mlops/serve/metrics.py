"""The server's Prometheus metrics, in a registry of its own (``GET /metrics``).

Names (all prefixed ``mlops_``):

- ``mlops_serve_requests_total{route,code}`` — every HTTP request by route and status code;
- ``mlops_serve_errors_total{code,reason}`` — refused or failed requests (bad_request, overloaded, draining, ...);
- ``mlops_serve_request_seconds`` — inference request latency, first byte in to last byte out;
- ``mlops_serve_stage_seconds{stage}`` — per inference request: ``decode`` (JSON → tensor), ``queue`` (waiting
  for the batcher), ``batch`` (the batching window and assembly), ``inference`` (the forward pass of its batch),
  ``serialisation`` (tensor → JSON);
- ``mlops_serve_batch_size`` — rows per forward pass; ``mlops_serve_queue_depth`` — requests waiting;
- ``mlops_serve_ready`` (0/1), ``mlops_serve_warmup_seconds``; ``mlops_model_info{model,version,digest}`` = 1;
- ``mlops_prediction_log_rows_total``, ``mlops_prediction_log_dropped_total``, ``mlops_prediction_log_errors_total``;
- prometheus-client's process metrics (``process_cpu_seconds_total``, ``process_resident_memory_bytes``, ...):
  the monitor's CPU and memory where no cAdvisor runs (a local Prometheus scraping local servers);
- on a machine with a GPU only (:meth:`Metrics.watch_gpu`): ``mlops_gpu_utilization_ratio{gpu}`` (0–1, NVML),
  ``mlops_gpu_memory_used_bytes{gpu}`` and ``mlops_gpu_memory_total_bytes{gpu}``, read at each scrape.

The histograms on the request path are ``FastHistogram``s: plain counters written by one thread each (the
event loop or the batcher) without a lock, exposed through a prometheus-client collector at scrape time.
An observation costs a ``bisect`` and two additions instead of prometheus-client's locked updates.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25,
                   0.5, 1.0, 2.5)
STAGES = ("decode", "queue", "batch", "inference", "serialisation")
log = logging.getLogger("mlops.serve")


def _batch_buckets(max_batch_size: int) -> tuple[float, ...]:
    sizes = {1, 2, 4, 8, 16, 24, 32, 48, 64, 128, 256, 512, 1024, 2048, 4096}
    return tuple(float(s) for s in sorted(s for s in sizes | {max_batch_size} if s <= max_batch_size))


class FastHistogram:
    """Bucket counts and a sum. Each instance must be written by one thread only (reads may come from any)."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, float]]:
        out, total = [], 0
        for bound, count in zip((*map(repr, self.bounds), "+Inf"), self.counts, strict=True):
            total += count
            out.append((bound, float(total)))
        return out


class _Histograms:
    """A prometheus-client collector over FastHistogram families."""

    def __init__(self) -> None:
        self.families: list[tuple[str, str, tuple[str, ...], dict[tuple[str, ...], FastHistogram]]] = []

    def add(self, name: str, doc: str, bounds: Sequence[float], label: str | None = None,
            values: Iterable[str] = ()) -> dict[tuple[str, ...], FastHistogram]:
        keys: list[tuple[str, ...]] = [(v,) for v in values] if label else [()]
        children = {key: FastHistogram(bounds) for key in keys}
        labels: tuple[str, ...] = (label,) if label else ()
        self.families.append((name, doc, labels, children))
        return children

    def _family(self, name: str, doc: str, labels: tuple[str, ...]) -> HistogramMetricFamily:
        return HistogramMetricFamily(name, doc, labels=list(labels))

    def describe(self) -> Iterator[Metric]:
        for name, doc, labels, _ in self.families:
            yield self._family(name, doc, labels)

    def collect(self) -> Iterator[Metric]:
        for name, doc, labels, children in self.families:
            family = self._family(name, doc, labels)
            for values, hist in children.items():
                family.add_metric(list(values), hist.cumulative(), sum_value=hist.sum)
            yield family


class Metrics:
    content_type = CONTENT_TYPE_PLAIN_0_0_4  # names are all classic: readable by every Prometheus

    def __init__(self, model: str, version: str, digest: str, max_batch_size: int) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.requests = Counter("mlops_serve_requests", "HTTP requests by route and status code",
                                ["route", "code"], registry=r)
        self.errors = Counter("mlops_serve_errors", "Refused or failed requests by status code and reason",
                              ["code", "reason"], registry=r)
        hists = _Histograms()
        self.latency = hists.add("mlops_serve_request_seconds", "Inference request latency in seconds",
                                 LATENCY_BUCKETS)[()]
        stages = hists.add("mlops_serve_stage_seconds", "Inference request time per stage in seconds",
                           LATENCY_BUCKETS, "stage", STAGES)
        self.stage = {name: stages[(name,)] for name in STAGES}
        self.batch_size = hists.add("mlops_serve_batch_size", "Rows per forward pass",
                                    _batch_buckets(max_batch_size))[()]
        r.register(hists)
        self.queue_depth = Gauge("mlops_serve_queue_depth", "Inference requests waiting for the batcher",
                                 registry=r)
        self.ready = Gauge("mlops_serve_ready", "1 once the model is loaded and warmed up, 0 while starting "
                                                "or draining", registry=r)
        self.warmup = Gauge("mlops_serve_warmup_seconds", "Seconds spent warming up the model", registry=r)
        Gauge("mlops_model_info", "The model version this server runs", ["model", "version", "digest"],
              registry=r).labels(model=model, version=version, digest=digest).set(1)
        self.log_rows = Counter("mlops_prediction_log_rows", "Prediction log rows written", registry=r)
        self.log_dropped = Counter("mlops_prediction_log_dropped", "Prediction log rows dropped because the "
                                                                   "buffer was full", registry=r)
        self.log_errors = Counter("mlops_prediction_log_errors", "Prediction log writes that failed", registry=r)
        ProcessCollector(registry=r)
        self._requests: dict[tuple[str, int], Counter] = {}
        self._errors: dict[tuple[int, str], Counter] = {}
        self.gpu: GpuCollector | None = None

    def watch_gpu(self, probe: GpuProbe | None) -> bool:
        """Export the GPUs ``probe`` sees (:func:`torch_gpu`); nothing without a probe or a device."""
        if probe is None or self.gpu is not None or probe.count() <= 0:
            return False
        self.gpu = GpuCollector(probe)
        self.registry.register(self.gpu)
        return True

    def count(self, route: str, code: int) -> None:
        child = self._requests.get((route, code))
        if child is None:
            child = self._requests[(route, code)] = self.requests.labels(route=route, code=str(code))
        child.inc()

    def error(self, code: int, reason: str) -> None:
        child = self._errors.get((code, reason))
        if child is None:
            child = self._errors[(code, reason)] = self.errors.labels(code=str(code), reason=reason)
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class GpuProbe(Protocol):
    """What the GPU metrics read per device (indices as this process sees them)."""

    def count(self) -> int: ...

    def utilization(self, index: int) -> float | None:
        """Percent of NVML's last sample period (1/6–1 s) in which a kernel ran; None when unknown."""
        ...

    def memory_used(self, index: int) -> float | None: ...

    def memory_total(self, index: int) -> float | None: ...


class TorchGpu:
    """A :class:`GpuProbe` over ``torch.cuda``. Utilisation and the device's memory in use come from NVML
    (``pynvml``: the ``nvidia-ml-py`` package); without it there is no utilisation and the memory in use is
    what this process's allocator holds (``memory_reserved``, which never creates a CUDA context)."""

    def __init__(self, cuda: Any) -> None:
        self._cuda = cuda
        self._nvml = True
        self._totals: dict[int, float] = {}

    def count(self) -> int:
        return int(self._cuda.device_count())

    def utilization(self, index: int) -> float | None:
        if not self._nvml:
            return None
        try:
            return float(self._cuda.utilization(index))
        except ModuleNotFoundError:  # torch: "nvidia-ml-py does not seem to be installed"
            self._nvml = False
            log.warning("GPU utilisation is not exported: install nvidia-ml-py (pynvml) in the serving image")
            return None

    def memory_used(self, index: int) -> float | None:
        if self._nvml:
            try:
                return float(self._cuda.device_memory_used(index))
            except ModuleNotFoundError:
                self._nvml = False
        return float(self._cuda.memory_reserved(index))

    def memory_total(self, index: int) -> float | None:
        if index not in self._totals:
            self._totals[index] = float(self._cuda.get_device_properties(index).total_memory)
        return self._totals[index]


def torch_gpu() -> TorchGpu | None:
    """The GPUs this process sees, or None on a CPU-only machine (torch without CUDA, or no device visible):
    then nothing about GPUs is exported and neither CUDA nor NVML is used."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of serving
        return None
    return TorchGpu(torch.cuda) if torch.cuda.is_available() and torch.cuda.device_count() > 0 else None


_GPU_FAMILIES = (
    ("mlops_gpu_utilization_ratio", "Share of time a kernel ran on the GPU over NVML's last sample period (0-1)"),
    ("mlops_gpu_memory_used_bytes", "GPU memory in use: the device's (NVML), else this process's allocator's"),
    ("mlops_gpu_memory_total_bytes", "GPU memory of the device"),
)


class GpuCollector:
    """Reads the probe at each scrape (no thread to run or stop); a failing read skips that sample, logged once."""

    def __init__(self, probe: GpuProbe) -> None:
        self.probe = probe
        self._reads: tuple[Callable[[int], float | None], ...] = (
            lambda i: None if (u := probe.utilization(i)) is None else u / 100, probe.memory_used, probe.memory_total)
        self._failed: set[str] = set()

    def describe(self) -> Iterator[Metric]:
        for name, doc in _GPU_FAMILIES:
            yield GaugeMetricFamily(name, doc, labels=["gpu"])

    def collect(self) -> Iterator[Metric]:
        count = self.probe.count()
        for (name, doc), read in zip(_GPU_FAMILIES, self._reads, strict=True):
            family = GaugeMetricFamily(name, doc, labels=["gpu"])
            for index in range(count):
                try:
                    value = read(index)
                except Exception as exc:  # NVML not supported (MIG), driver gone: this sample only
                    if name not in self._failed:
                        self._failed.add(name)
                        log.warning("cannot read %s for GPU %d: %s: %s", name, index, type(exc).__name__, exc)
                    continue
                if value is not None:
                    family.add_metric([str(index)], value)
            yield family
