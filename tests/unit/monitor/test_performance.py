"""Live performance: the record's metric on labelled production rows, worse only with confidence."""

from __future__ import annotations

import numpy as np

from mlops.core.spec.model import Performance
from mlops.monitor.performance import class_indices, live_performance

RNG = np.random.default_rng(5)


def logits(labels: np.ndarray, accuracy: float, k: int = 10) -> np.ndarray:
    """Outputs whose argmax is right for about ``accuracy`` of the rows."""
    right = RNG.random(len(labels)) < accuracy
    predicted = np.where(right, labels, (labels + 1 + RNG.integers(0, k - 1, len(labels))) % k)
    out = RNG.normal(0, 0.1, (len(labels), k))
    out[np.arange(len(labels)), predicted] += 3
    return out


def test_clearly_worse_is_worse_with_its_interval() -> None:
    y = RNG.integers(0, 10, 800)
    live = live_performance(Performance(metric="accuracy", degradation=0.03), {"accuracy": 0.97}, y,
                            logits(y, 0.80))
    assert live.verdict == "worse" and live.labels == 800
    assert live.interval is not None and live.interval[1] < 0.94 and live.limit is not None
    assert abs(live.limit - 0.94) < 1e-9 and "the whole interval is below it" in live.detail


def test_a_small_dip_within_noise_is_not_worse() -> None:
    y = RNG.integers(0, 10, 150)
    live = live_performance(Performance(metric="accuracy", degradation=0.03, min_labels=100),
                            {"accuracy": 0.97}, y, logits(y, 0.93))
    assert live.verdict == "ok" and "not beyond it with confidence" in live.detail


def test_too_few_labels_decide_nothing() -> None:
    y = RNG.integers(0, 10, 40)
    live = live_performance(Performance(metric="accuracy", min_labels=100), {"accuracy": 0.97}, y, logits(y, 0.1))
    assert live.verdict == "insufficient labels" and "40 labelled predictions; 100 needed" in live.detail


def test_lower_is_better_metrics_judge_the_lower_bound() -> None:
    y = RNG.integers(0, 10, 600)
    live = live_performance(Performance(metric="log_loss", degradation=0.05), {"log_loss": 0.1}, y, logits(y, 0.6))
    assert live.verdict == "worse" and live.interval is not None and live.interval[0] > 0.15


def test_not_configured_and_no_record_metric() -> None:
    assert live_performance(None, {}, [], []).verdict == "not configured"
    y = RNG.integers(0, 10, 200)
    live = live_performance(Performance(metric="macro_f1"), {"accuracy": 0.9}, y, logits(y, 0.9))
    assert live.verdict == "ok" and "the record has no macro_f1" in live.detail


def test_labels_map_to_the_models_classes_as_text() -> None:
    assert class_indices([7, "7", "cat", 0], [0, 7, "dog"]).tolist() == [1, 1, -1, 0]  # type: ignore[union-attr]
    assert class_indices(["3", 1], []).tolist() == [3, 1]  # type: ignore[union-attr]
    assert class_indices(["cat"], []) is None
