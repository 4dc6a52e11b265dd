"""Evaluation metrics in plain numpy, from model outputs (logits or one regression value).

Classification: ``accuracy``, ``macro_f1`` (over the classes present in the labels or the
predictions, like scikit-learn's ``f1_score(average="macro")``), ``log_loss`` (mean negative
log-likelihood of the softmax of the logits, in float64). Regression: ``rmse``, ``mae``, ``r2``
(1 − SS_res/SS_tot; a constant target gives 1.0 when predicted exactly, else 0.0).

Each metric is written once, as per-row statistics (``stats``: ``[N, k]``) and a reduction of their
row-weighted sums (``reduce``). :func:`weighted` evaluates a metric under many row weightings at
once — a bootstrap replicate is the weighting "how often each test row was drawn" — with one matrix
product; the plain functions (:func:`accuracy` …) are the same code under the weighting "every row
once". So a point value and its bootstrap replicates can never disagree about what a metric means.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]
IntArray = npt.NDArray[np.integer]
CONSTANT_TOL = 1e-12  # SS_tot at or below this share of Σ(y − ȳ)² means a constant target (float-noise proof)


def _labels(y: npt.ArrayLike) -> IntArray:
    return np.asarray(y).astype(np.int64).reshape(-1)


def _pair(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    return (np.asarray(y_true, dtype=np.float64).reshape(-1), np.asarray(y_pred, dtype=np.float64).reshape(-1))


def _column(values: npt.ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64).reshape(-1, 1)


def _correct(y_true: npt.ArrayLike, logits: npt.ArrayLike) -> FloatArray:
    return _column(np.asarray(logits).argmax(axis=1) == _labels(y_true))


def _f1_stats(y_true: npt.ArrayLike, logits: npt.ArrayLike) -> FloatArray:
    """Per class present anywhere in the split: the row is a true positive; the row counts in 2·tp + fp + fn."""
    y = _labels(y_true)
    pred = np.asarray(logits).argmax(axis=1)
    classes = np.union1d(y, pred)
    is_y, is_pred = y[:, None] == classes, pred[:, None] == classes
    return np.concatenate([is_y & is_pred, is_y.astype(np.int64) + is_pred], axis=1).astype(np.float64)


def _f1_reduce(sums: FloatArray, n: FloatArray) -> FloatArray:
    tp, denom = np.split(sums, 2, axis=1)
    present = denom > 0  # a class absent from the (re)sample's labels and predictions does not count
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=present)
    count = present.sum(axis=1)
    return np.divide(f1.sum(axis=1), count, out=np.zeros(len(sums)), where=count > 0)


def _nll(y_true: npt.ArrayLike, logits: npt.ArrayLike) -> FloatArray:
    y = _labels(y_true)
    z = np.asarray(logits, dtype=np.float64)
    if not y.size:
        return np.zeros((0, 1))
    shifted = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    return _column(log_norm - shifted[np.arange(y.size), y])


def _squared(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> FloatArray:
    y, p = _pair(y_true, y_pred)
    return _column((y - p) ** 2)


def _absolute(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> FloatArray:
    y, p = _pair(y_true, y_pred)
    return _column(np.abs(y - p))


def _r2_stats(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> FloatArray:
    """(y − p)², and y centred on its split mean and squared: SS_tot of any weighting without cancellation."""
    y, p = _pair(y_true, y_pred)
    d = y - (y.mean() if y.size else 0.0)
    return np.stack([(y - p) ** 2, d, d**2], axis=1)


def _r2_reduce(sums: FloatArray, n: FloatArray) -> FloatArray:
    ss_res, s_d, s_d2 = sums[:, 0], sums[:, 1], sums[:, 2]
    ss_tot = s_d2 - s_d**2 / n
    constant = ss_tot <= CONSTANT_TOL * np.maximum(s_d2, np.finfo(np.float64).tiny)
    safe = np.where(constant, 1.0, ss_tot)
    return np.where(constant, np.where(ss_res == 0.0, 1.0, 0.0), 1.0 - ss_res / safe)


def _mean(sums: FloatArray, n: FloatArray) -> FloatArray:
    return sums[:, 0] / n


def _root_mean(sums: FloatArray, n: FloatArray) -> FloatArray:
    return np.sqrt(sums[:, 0] / n)


Stats = Callable[[npt.ArrayLike, npt.ArrayLike], FloatArray]
Reduce = Callable[[FloatArray, FloatArray], FloatArray]


@dataclass(frozen=True)
class Metric:
    """A metric as per-row statistics ``[N, k]`` and the reduction of their weighted sums ``[B, k]`` → ``[B]``."""

    stats: Stats
    reduce: Reduce


SPECS: dict[str, Metric] = {
    "accuracy": Metric(_correct, _mean), "macro_f1": Metric(_f1_stats, _f1_reduce),
    "log_loss": Metric(_nll, _mean), "rmse": Metric(_squared, _root_mean), "mae": Metric(_absolute, _mean),
    "r2": Metric(_r2_stats, _r2_reduce),
}


def weighted(name: str, y_true: npt.ArrayLike, outputs: npt.ArrayLike, weights: npt.ArrayLike) -> FloatArray:
    """The metric ``name`` under each row weighting: ``weights`` is ``[B, N]`` (row i counted ``weights[b, i]``
    times), the answer ``[B]``. A weighting of total 0 gives 0.0, like an empty split."""
    return reduce_weighted(name, SPECS[name].stats(y_true, outputs), weights)


def reduce_weighted(name: str, stats: FloatArray, weights: npt.ArrayLike) -> FloatArray:
    """:func:`weighted` from per-row statistics already computed (``SPECS[name].stats``)."""
    w = np.asarray(weights, dtype=np.float64)
    return from_sums(name, w @ stats, w.sum(axis=1))


def from_sums(name: str, sums: FloatArray, n: FloatArray) -> FloatArray:
    """The metric ``name`` from weighted sums of its per-row statistics (``[B, k]``) and the weights' totals
    (``[B]``): a bootstrap stacks every metric's statistics and takes all sums in one matrix product."""
    if not sums.shape[1]:  # no class at all: an empty split
        return np.zeros(len(sums))
    empty = n == 0
    values = SPECS[name].reduce(sums, np.where(empty, 1.0, n))
    return np.where(empty, 0.0, values)


def point(name: str, y_true: npt.ArrayLike, outputs: npt.ArrayLike) -> float:
    """The metric ``name`` on every row once (0.0 for an empty split)."""
    n = _labels(y_true).size
    return float(weighted(name, y_true, outputs, np.ones((1, n)))[0])


def accuracy(y_true: npt.ArrayLike, logits: npt.ArrayLike) -> float:
    return point("accuracy", y_true, logits)


def macro_f1(y_true: npt.ArrayLike, logits: npt.ArrayLike) -> float:
    return point("macro_f1", y_true, logits)


def log_loss(y_true: npt.ArrayLike, logits: npt.ArrayLike) -> float:
    return point("log_loss", y_true, logits)


def rmse(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    return point("rmse", y_true, y_pred)


def mae(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    return point("mae", y_true, y_pred)


def r2(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    return point("r2", y_true, y_pred)


METRICS: dict[str, Callable[[npt.ArrayLike, npt.ArrayLike], float]] = {
    "accuracy": accuracy, "macro_f1": macro_f1, "log_loss": log_loss, "rmse": rmse, "mae": mae, "r2": r2,
}


def compute(names: Iterable[str], y_true: npt.ArrayLike, outputs: npt.ArrayLike) -> dict[str, float]:
    """The named metrics of ``outputs`` (``[N, n_outputs]``) against ``y_true`` (class index or value)."""
    return {name: METRICS[name](y_true, outputs) for name in names}
