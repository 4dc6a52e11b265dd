"""Slices of the test split: which rows each of ``evaluation.slices`` holds, and every metric per slice.

A slice is a column's ``values``, a half-open ``range`` [lo, hi) of it, or a ``where`` expression over the
features (:mod:`mlops.core.sliceexpr`); slices may overlap and need not cover every row. Each metric is
measured on a slice's rows with a 95 % percentile interval from the same bootstrap as the overall metrics
(:func:`mlops.core.confidence.replicates`: seeded, vectorised, and paired — the candidate and the baseline
are scored on the same resamples). Each slice is resampled on its own rows (a stratified bootstrap: every
replicate keeps each slice's size), from a seed derived from the configured one and the slice's position,
so the replicates of all slices together give intervals of statistics over slices — the worst slice's
value, the gap between the best and the worst — that :mod:`mlops.core.slicegates` judges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from mlops.core.confidence import Bootstrap, Rows
from mlops.core.spec.model import Slice
from mlops.core.spec.record import SliceMetrics

if TYPE_CHECKING:  # numpy is imported where slices are measured; verdicts and gates are read without it
    import numpy.typing as npt

    from mlops.core.metrics import FloatArray

SEED_STRIDE = 1_000_003  # slice i resamples with seed × stride + i + 1: distinct, reproducible streams


@dataclass(frozen=True)
class Measured:
    """One version's slices: what is recorded and shown (``scores``), and each slice's bootstrap replicates
    (slice → metric → ``[B]``, paired with the other versions measured in the same call; empty when the scores
    come from a version record)."""

    scores: dict[str, SliceMetrics]
    replicates: dict[str, dict[str, FloatArray]] = field(default_factory=dict, compare=False)

    @classmethod
    def from_record(cls, slices: Mapping[str, SliceMetrics]) -> Measured:
        return cls(dict(slices))


def masks(slices: Sequence[Slice], features: Sequence[str], x: npt.ArrayLike) -> dict[str, npt.NDArray[Any]]:
    """Which rows of ``x`` (``[N, len(features)]``, features in this order) each slice holds: bool ``[N]``.
    Values and range ends are compared at the precision of the model's input (float32), so a CSV value equal to
    a bound falls on the side the spec says. A column the features lack raises KeyError (``mlops validate``
    refuses such a spec first)."""
    import numpy as np

    from mlops.core.sliceexpr import evaluate

    table = np.asarray(x)
    rows = len(table)
    columns = {name: table[:, i] for i, name in enumerate(features)}
    found: dict[str, npt.NDArray[Any]] = {}
    for s in slices:
        if s.where is not None:
            found[s.name] = evaluate(s.where, columns, rows)
            continue
        column = np.asarray(columns[str(s.column)], dtype=np.float32)
        if s.values is not None:
            found[s.name] = np.isin(column, np.asarray([float(v) for v in s.values], dtype=np.float32))
        else:
            assert s.range is not None  # the spec allows exactly one of values, range and where
            low, high = (np.float32(end) for end in s.range)
            found[s.name] = (column >= low) & (column < high)
    return found


def _slice_seed(config: Bootstrap, index: int) -> int:
    return config.seed * SEED_STRIDE + index + 1


def measure(names: Sequence[str], versions: Sequence[Rows], where: Mapping[str, npt.ArrayLike],
            config: Bootstrap | None = None) -> list[Measured]:
    """``names`` on each slice's rows (``where``: slice → bool mask over the rows) for each version, scored on the
    same rows in the same order, with 95 % intervals from resamples shared by the versions."""
    import numpy as np

    from mlops.core.confidence import percentile_interval, replicates
    from mlops.core.metrics import compute

    config = config or Bootstrap()
    scores: list[dict[str, SliceMetrics]] = [{} for _ in versions]
    reps: list[dict[str, dict[str, FloatArray]]] = [{} for _ in versions]
    for index, (name, mask) in enumerate(where.items()):
        keep = np.asarray(mask, dtype=bool).reshape(-1)
        rows = int(keep.sum())
        if rows == 0:
            for v in range(len(versions)):
                scores[v][name] = SliceMetrics(rows=0)
            continue
        parts = [Rows(np.asarray(r.labels)[keep], np.asarray(r.outputs)[keep]) for r in versions]
        drawn = replicates(names, parts, replace(config, seed=_slice_seed(config, index)))
        for v, part in enumerate(parts):
            points = compute(names, part.labels, part.outputs)
            intervals = {m: iv.to_list() for m in names
                         if (iv := percentile_interval(drawn[v][m], config.level)) is not None}
            scores[v][name] = SliceMetrics(rows=rows, metrics=points, intervals=intervals)
            reps[v][name] = drawn[v]
    return [Measured(s, r) for s, r in zip(scores, reps, strict=True)]


def recorded(measured: Measured) -> dict[str, Any]:
    """The ``slices`` field of a version record (plain JSON)."""
    return {name: score.model_dump(mode="json") for name, score in measured.scores.items()}
