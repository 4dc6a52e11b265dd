"""Lock-free histograms exposed through prometheus-client: Prometheus semantics (le is inclusive, cumulative)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from mlops.serve.metrics import FastHistogram, Metrics


def test_buckets_are_inclusive_upper_bounds_and_cumulative() -> None:
    hist = FastHistogram([0.1, 1.0])
    for value in (0.05, 0.1, 0.5, 1.0, 7.0):
        hist.observe(value)
    assert hist.cumulative() == [("0.1", 2.0), ("1.0", 4.0), ("+Inf", 5.0)]
    assert hist.count == 5 and abs(hist.sum - 8.65) < 1e-9


def test_exposition_parses_as_prometheus_text() -> None:
    m = Metrics("digits-cnn", "v1", "sha256:" + "a" * 64, 32)
    m.stage["inference"].observe(0.002)
    m.batch_size.observe(17)
    m.count("infer", 200)
    m.error(429, "overloaded")
    families = {f.name: f for f in text_string_to_metric_families(m.render().decode())}
    assert {"mlops_serve_requests", "mlops_serve_errors", "mlops_serve_request_seconds", "mlops_serve_stage_seconds",
            "mlops_serve_batch_size", "mlops_serve_queue_depth", "mlops_serve_ready", "mlops_model_info",
            "mlops_prediction_log_dropped"} <= set(families)
    batch = {s.labels.get("le"): s.value for s in families["mlops_serve_batch_size"].samples
             if s.name.endswith("_bucket")}
    assert batch["16.0"] == 0 and batch["24.0"] == 1 and batch["32.0"] == 1 and batch["+Inf"] == 1
    stages = {s.labels["stage"] for s in families["mlops_serve_stage_seconds"].samples}
    assert stages == {"decode", "queue", "batch", "inference", "serialisation"}
    (info,) = families["mlops_model_info"].samples
    assert info.labels == {"model": "digits-cnn", "version": "v1", "digest": "sha256:" + "a" * 64}
