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
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25,
                   0.5, 1.0, 2.5)
STAGES = ("decode", "queue", "batch", "inference", "serialisation")


def _batch_buckets(max_batch_size: int) -> tuple[float, ...]:
    sizes = {1, 2, 4, 8, 16, 24, 32, 48, 64, 128, 256, 512, 1024, 2048, 4096}
    return tuple(float(s) for s in sorted(s for s in sizes | {max_batch_size} if s <= max_batch_size))


class Metrics:
    content_type = CONTENT_TYPE_PLAIN_0_0_4  # names are all classic: readable by every Prometheus

    def __init__(self, model: str, version: str, digest: str, max_batch_size: int) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.requests = Counter("mlops_serve_requests", "HTTP requests by route and status code",
                                ["route", "code"], registry=r)
        self.errors = Counter("mlops_serve_errors", "Refused or failed requests by status code and reason",
                              ["code", "reason"], registry=r)
        self.latency = Histogram("mlops_serve_request_seconds", "Inference request latency in seconds",
                                 buckets=LATENCY_BUCKETS, registry=r)
        stage = Histogram("mlops_serve_stage_seconds", "Inference request time per stage in seconds", ["stage"],
                          buckets=LATENCY_BUCKETS, registry=r)
        self.stage = {name: stage.labels(stage=name) for name in STAGES}
        self.batch_size = Histogram("mlops_serve_batch_size", "Rows per forward pass",
                                    buckets=_batch_buckets(max_batch_size), registry=r)
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

    def count(self, route: str, code: int) -> None:
        child = self._requests.get((route, code))
        if child is None:
            child = self._requests[(route, code)] = self.requests.labels(route=route, code=str(code))
        child.inc()

    def error(self, code: int, reason: str) -> None:
        self.errors.labels(code=str(code), reason=reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
