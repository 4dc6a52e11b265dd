"""Slice gates (pure): does every slice meet a bound, and are the slices close enough to each other?

A :class:`~mlops.core.spec.model.SliceGate` judges one statistic over the slices it covers (all of
``evaluation.slices`` unless it names some): the worst slice's value (``min_per_slice``: the smallest;
``max_per_slice``: the largest) or the gap between the best and the worst slice (``max_gap``: largest −
smallest, whichever way the metric points). Its 95 % interval comes from the slices' joint bootstrap
replicates (:mod:`mlops.core.slices`); ``judge: bound`` decides on its pessimistic end, like a gate.

A slice with fewer test rows than the gate's ``min_rows`` is not judged, and the reason says so; a gate left
with no slice to judge (fewer than two for a gap) fails and says why — it never passes for lack of rows.
The outcome is a :class:`~mlops.core.policy.GateResult` (``worst_slice`` names the slice that decided), so
verdicts, the ``mlops/gates`` status, confidence and the report treat it like any other gate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlops.core.confidence import EPS, Interval
from mlops.core.policy import GateResult, fmt
from mlops.core.slices import Measured
from mlops.core.spec.model import HIGHER_IS_BETTER, SliceGate

if TYPE_CHECKING:
    from mlops.core.metrics import FloatArray


def rule_text(gate: SliceGate) -> str:
    if gate.min_per_slice is not None:
        return f"every slice ≥ {gate.min_per_slice:g}"
    if gate.max_per_slice is not None:
        return f"every slice ≤ {gate.max_per_slice:g}"
    return f"gap between slices ≤ {gate.max_gap:g}"


def _statistic(gate: SliceGate, values: Any) -> Any:
    """The judged statistic over axis 0 (slices) of ``values``: worst slice or gap."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    if gate.min_per_slice is not None:
        return v.min(axis=0)
    if gate.max_per_slice is not None:
        return v.max(axis=0)
    return v.max(axis=0) - v.min(axis=0)


def _interval(gate: SliceGate, measured: Measured, names: Sequence[str], minus: Measured | None = None,
              level: float = 0.95) -> Interval | None:
    """The percentile interval of the statistic (of candidate − ``minus`` when given) from the replicates."""
    import numpy as np

    from mlops.core.confidence import percentile_interval

    def stacked(m: Measured) -> FloatArray | None:
        reps = [m.replicates.get(s, {}).get(gate.metric) for s in names]
        if any(r is None for r in reps) or len({len(r) for r in reps if r is not None}) != 1:
            return None
        return np.stack([r for r in reps if r is not None])

    mine = stacked(measured)
    if mine is None:
        return None
    values = _statistic(gate, mine)
    if minus is not None:
        theirs = stacked(minus)
        if theirs is None or theirs.shape != mine.shape:
            return None
        values = values - _statistic(gate, theirs)
    return percentile_interval(values, level)


def _points(gate: SliceGate, measured: Measured | None, names: Sequence[str]) -> list[float] | None:
    if measured is None:
        return None
    values = [measured.scores[s].metrics.get(gate.metric) if s in measured.scores else None for s in names]
    if any(v is None or not math.isfinite(v) for v in values):
        return None
    return [float(v) for v in values if v is not None]


def _excluded(gate: SliceGate, candidate: Measured, chosen: Sequence[str]) -> tuple[list[str], list[str]]:
    """The slices judged, and a phrase for each one that is not (and why)."""
    judged, left = [], []
    for name in chosen:
        score = candidate.scores.get(name)
        value = score.metrics.get(gate.metric) if score is not None else None
        if score is None:
            left.append(f"{name} (not measured)")
        elif score.rows < gate.min_rows:
            left.append(f"{name} ({score.rows} rows < {gate.min_rows})")
        elif value is None or not math.isfinite(value):
            left.append(f"{name} ({gate.metric} {'not computed' if value is None else value})")
        else:
            judged.append(name)
    return judged, left


def check_slice_gate(gate: SliceGate, candidate: Measured | None, baseline: Measured | None,
                     order: Sequence[str], *, missing: str = "", level: float = 0.95) -> GateResult:
    """One slice gate on the candidate's slices (``order``: every slice name, in the spec's order); the
    baseline's same statistic on the same slices is shown beside it (no rule applies to it)."""
    chosen = list(gate.slices or order)
    maximum = gate.max_per_slice if gate.max_per_slice is not None else gate.max_gap
    common: dict[str, Any] = dict(name=gate.name, metric=gate.metric, source="model", rule=rule_text(gate),
                                  min=gate.min_per_slice, max=maximum)
    if candidate is None or not candidate.scores:
        why = missing or "the candidate has no slice metrics"
        return GateResult(passed=False, reason=f"{why}; expected {gate.metric} per slice (train a version with "
                                               "evaluation.slices, or evaluate it on the test rows)", value=None,
                          **common)
    judged, left = _excluded(gate, candidate, chosen)
    not_judged = f"not judged: {', '.join(left)}" if left else ""
    needed = 2 if gate.max_gap is not None else 1
    if len(judged) < needed:
        have = f"only {len(judged)} slice{'' if len(judged) == 1 else 's'} can be judged" if judged else \
            "no slice can be judged"
        return GateResult(passed=False, reason=f"{have} ({not_judged or 'none named'}); expected at least "
                                               f"{needed} with {gate.min_rows}+ test rows (widen the slices or "
                                               "lower min_rows)", value=None, **common)
    points = _points(gate, candidate, judged)
    assert points is not None  # _excluded kept only slices with a finite value
    value = float(_statistic(gate, points))
    iv = _interval(gate, candidate, judged, level=level)
    base_points = _points(gate, baseline, judged)
    base = float(_statistic(gate, base_points)) if base_points is not None else None
    div = _interval(gate, candidate, judged, baseline, level) if base is not None and baseline is not None else None
    bound = gate.judge == "bound" and iv is not None
    higher = gate.metric in HIGHER_IS_BETTER
    if gate.max_gap is not None:
        worst = judged[points.index(min(points) if higher else max(points))]
        best = judged[points.index(max(points) if higher else min(points))]
    else:
        worst = judged[points.index(value)]
    if gate.min_per_slice is not None:
        decide = iv.low if bound and iv is not None else value
        passed = decide >= gate.min_per_slice - EPS
        what = f"{gate.metric} 95 % lower bound {fmt(decide)}" if bound else f"{gate.metric} {fmt(value)}"
        reason = f"worst slice {worst}: {what} {'≥' if passed else '<'} min {gate.min_per_slice:g}"
    else:
        assert maximum is not None
        decide = iv.high if bound and iv is not None else value
        passed = decide <= maximum + EPS
        sign = "≤" if passed else ">"
        if gate.max_gap is not None:
            scores = candidate.scores
            what = f"gap 95 % upper bound {fmt(decide)}" if bound else f"gap {fmt(value)}"
            reason = (f"{what} between {best} ({fmt(scores[best].metrics[gate.metric])}) and {worst} "
                      f"({fmt(scores[worst].metrics[gate.metric])}) {sign} max {maximum:g}")
        else:
            what = f"{gate.metric} 95 % upper bound {fmt(decide)}" if bound else f"{gate.metric} {fmt(value)}"
            reason = f"worst slice {worst}: {what} {sign} max {maximum:g}"
    reason += f"; {not_judged}" if not_judged else ""
    if gate.judge == "bound" and not bound:
        reason += " (judge: bound, but no 95 % interval over the slices: the point value decided)"
    return GateResult(passed=passed, reason=reason, value=value, baseline=base,
                      delta=value - base if base is not None else None, judged="bound" if bound else "point",
                      value_low=iv.low if iv else None, value_high=iv.high if iv else None,
                      delta_low=div.low if div else None, delta_high=div.high if div else None,
                      worst_slice=worst, **common)


def judge_slices(gates: Sequence[SliceGate], candidate: Measured | None, baseline: Measured | None,
                 order: Sequence[str], *, missing: str = "", level: float = 0.95) -> tuple[GateResult, ...]:
    """Every slice gate of a model (``evaluation.slice_gates``), in order."""
    return tuple(check_slice_gate(g, candidate, baseline, order, missing=missing, level=level) for g in gates)


def worst_slice(metric: str, slices: dict[str, Any], min_rows: int = 1) -> str | None:
    """The slice with the worst ``metric`` (direction from HIGHER_IS_BETTER) among those with ``min_rows``+ rows."""
    found = [(score.metrics[metric], name) for name, score in slices.items()
             if score.rows >= min_rows and metric in score.metrics and math.isfinite(score.metrics[metric])]
    if not found:
        return None
    pick = min if metric in HIGHER_IS_BETTER else max
    return pick(found, key=lambda pair: pair[0])[1]
