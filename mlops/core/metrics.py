"""Evaluation metrics in plain numpy, from model outputs (logits or one regression value).

Classification: ``accuracy``, ``macro_f1`` (over the classes present in the labels or the
predictions, like scikit-learn's ``f1_score(average="macro")``), ``log_loss`` (mean negative
log-likelihood of the softmax of the logits, in float64). Regression: ``rmse``, ``mae``, ``r2``
(1 − SS_res/SS_tot; a constant target gives 1.0 when predicted exactly, else 0.0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]
IntArray = npt.NDArray[np.integer]


def _labels(y: npt.ArrayLike) -> IntArray:
    return np.asarray(y).astype(np.int64).reshape(-1)


def accuracy(y_true: npt.ArrayLike, logits: npt.ArrayLike) -> float:
    y = _labels(y_true)
    pred = np.asarray(logits).argmax(axis=1)
    return float(np.mean(pred == y)) if y.size else 0.0


def macro_f1(y_true: npt.ArrayLike, logits: npt.ArrayLike) -> float:
    y = _labels(y_true)
    pred = np.asarray(logits).argmax(axis=1)
    scores = []
    for c in np.union1d(y, pred):
        tp = int(np.sum((pred == c) & (y == c)))
        fp = int(np.sum((pred == c) & (y != c)))
        fn = int(np.sum((pred != c) & (y == c)))
        denom = 2 * tp + fp + fn
        scores.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def log_loss(y_true: npt.ArrayLike, logits: npt.ArrayLike) -> float:
    y = _labels(y_true)
    z = np.asarray(logits, dtype=np.float64)
    if not y.size:
        return 0.0
    shifted = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(log_norm - shifted[np.arange(y.size), y]))


def _pair(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    return (np.asarray(y_true, dtype=np.float64).reshape(-1), np.asarray(y_pred, dtype=np.float64).reshape(-1))


def rmse(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    y, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((y - p) ** 2))) if y.size else 0.0


def mae(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    y, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(y - p))) if y.size else 0.0


def r2(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    y, p = _pair(y_true, y_pred)
    if not y.size:
        return 0.0
    ss_res = float(np.sum((y - p) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot


METRICS: dict[str, Callable[[npt.ArrayLike, npt.ArrayLike], float]] = {
    "accuracy": accuracy, "macro_f1": macro_f1, "log_loss": log_loss, "rmse": rmse, "mae": mae, "r2": r2,
}


def compute(names: Iterable[str], y_true: npt.ArrayLike, outputs: npt.ArrayLike) -> dict[str, float]:
    """The named metrics of ``outputs`` (``[N, n_outputs]``) against ``y_true`` (class index or value)."""
    return {name: METRICS[name](y_true, outputs) for name in names}
