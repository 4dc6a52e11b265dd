"""The numpy metrics agree with scikit-learn's on real-looking outputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from mlops.core import metrics


@pytest.fixture
def classified() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, size=200)
    logits = rng.normal(size=(200, 4)) + np.eye(4)[y] * 1.5
    return y, logits


def test_classification_metrics_match_sklearn(classified: tuple[np.ndarray, np.ndarray]) -> None:
    y, logits = classified
    pred = logits.argmax(axis=1)
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    assert metrics.accuracy(y, logits) == pytest.approx(sk.accuracy_score(y, pred))
    assert metrics.macro_f1(y, logits) == pytest.approx(sk.f1_score(y, pred, average="macro"))
    assert metrics.log_loss(y, logits) == pytest.approx(sk.log_loss(y, prob, labels=range(4)), rel=1e-9)


def test_macro_f1_counts_classes_present_in_labels_or_predictions() -> None:
    y = np.array([0, 0, 1, 1])
    logits = np.array([[1, 0, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]], dtype=float)  # predicts class 2 once
    pred = logits.argmax(axis=1)
    assert metrics.macro_f1(y, logits) == pytest.approx(sk.f1_score(y, pred, average="macro"))


def test_log_loss_is_stable_for_extreme_logits() -> None:
    assert metrics.log_loss([0], np.array([[1000.0, -1000.0]])) == pytest.approx(0.0)
    assert np.isfinite(metrics.log_loss([1], np.array([[1000.0, -1000.0]])))


def test_regression_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(size=100)
    out = (y + rng.normal(scale=0.3, size=100)).reshape(-1, 1)
    assert metrics.rmse(y, out) == pytest.approx(np.sqrt(sk.mean_squared_error(y, out.ravel())))
    assert metrics.mae(y, out) == pytest.approx(sk.mean_absolute_error(y, out.ravel()))
    assert metrics.r2(y, out) == pytest.approx(sk.r2_score(y, out.ravel()))


def test_r2_of_a_constant_target() -> None:
    assert metrics.r2([2.0, 2.0], [[2.0], [2.0]]) == 1.0
    assert metrics.r2([2.0, 2.0], [[1.0], [2.0]]) == 0.0


def test_compute_runs_the_named_metrics(classified: tuple[np.ndarray, np.ndarray]) -> None:
    y, logits = classified
    result = metrics.compute(["accuracy", "log_loss"], y, logits)
    assert list(result) == ["accuracy", "log_loss"] and all(isinstance(v, float) for v in result.values())
