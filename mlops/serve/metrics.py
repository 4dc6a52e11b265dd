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
- ``mlops_prediction_log_rows_total``, ``mlops_prediction_log_dropped_total``, ``mlops_prediction_log_errors_total``.

The histograms on the request path are ``FastHistogram``s: plain counters written by one thread each (the
event loop or the batcher) without a lock, exposed through a prometheus-client collector at scrape time.
An observation costs a ``bisect`` and two additions instead of prometheus-client's locked updates.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25,
                   0.5, 1.0, 2.5)
STAGES = ("decode", "queue", "batch", "inference", "serialisation")


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
        self._requests: dict[tuple[str, int], Counter] = {}
        self._errors: dict[tuple[int, str], Counter] = {}

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
