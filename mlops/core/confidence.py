"""95 % intervals for metrics and their differences: a paired, seeded, vectorised bootstrap over the test rows.

A test split of a few hundred rows measures a metric with noise of about a percentage point: one row
can flip a regression gate. Each replicate draws N row indices with replacement *once* and scores
both the candidate and the baseline on that same resample, so the interval of Δ (candidate −
baseline) keeps the pairing: rows both models get right or wrong cancel, and Δ's interval is as
narrow as the models' disagreement allows (an unpaired bootstrap would add both models' row noise).

Replicates are row-count weightings ``[B, N]``; every metric is a reduction of weighted per-row sums
(:mod:`mlops.core.metrics`), so B replicates cost one matrix product per metric and version (chunked
to bound memory for large splits). The generator is seeded: the same rows, outputs and settings give
the same intervals, and every verdict on one split resamples the same rows.

Intervals are percentile intervals. The metrics are bounded and mostly discrete (accuracy, macro-F1
move in steps of 1/N), which is where BCa's jackknife acceleration and bias correction are least
stable and studentised intervals need a variance per replicate we do not have; the percentile
interval respects the metric's range and, for the splits here, covers at its nominal level (tested).

A verdict is *confident* at a margin (:func:`confidence`, :func:`confident`) when every gate passes and
its pessimistic bound clears each rule by at least the margin — what auto-merge asks, with the
environment's ``policy.confidence_margin``. Without intervals (record-only verdicts, a baseline
judged from its record) it is not, and the reasons say why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops.core.spec.model import HIGHER_IS_BETTER

if TYPE_CHECKING:  # numpy is imported where it computes: verdicts and gates (policy) are read without it
    import numpy as np
    import numpy.typing as npt

    from mlops.core.metrics import FloatArray

if TYPE_CHECKING:  # policy imports this module; these are only annotations here
    from mlops.core.policy import GateResult, Verdict

LEVEL = 0.95
REPLICATES = 1000
CHUNK_CELLS = 2_000_000  # replicates × rows per chunk: ~16 MB of weights, whatever the split's size
EPS = 1e-9  # comparisons forgive float noise this small


@dataclass(frozen=True)
class Interval:
    """A two-sided interval ``[low, high]``."""

    low: float
    high: float

    def to_list(self) -> list[float]:
        return [self.low, self.high]

    @classmethod
    def from_list(cls, value: Sequence[Any]) -> Interval:
        low, high = (float(v) for v in value)
        return cls(low, high)


@dataclass(frozen=True)
class Bootstrap:
    """How intervals are computed; a verdict keeps it (with the number of rows resampled) as its evidence."""

    replicates: int = REPLICATES
    seed: int = 0
    level: float = LEVEL
    rows: int = 0
    method: str = "paired percentile bootstrap over the test rows"

    def __post_init__(self) -> None:
        if self.replicates < 2:
            raise ValueError(f"bootstrap replicates {self.replicates}: expected at least 2 (e.g. 1000)")
        if not 0 < self.level < 1:
            raise ValueError(f"interval level {self.level}: expected a share between 0 and 1 (e.g. 0.95)")

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "replicates": self.replicates, "seed": self.seed, "level": self.level,
                "rows": self.rows}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Bootstrap:
        return cls(int(data["replicates"]), int(data["seed"]), float(data["level"]), int(data.get("rows", 0)),
                   str(data.get("method", cls.method)))


@dataclass(frozen=True)
class Rows:
    """A version's outputs on the test split, one row per sample, and the labels they are scored against."""

    labels: npt.NDArray[Any]
    outputs: npt.NDArray[Any]

    def __len__(self) -> int:
        import numpy as np

        return int(np.asarray(self.labels).reshape(-1).size)


@dataclass(frozen=True)
class Intervals:
    """Per metric: the candidate's, the baseline's and Δ's interval; ``missing`` says why a metric has none."""

    bootstrap: Bootstrap | None  # None: no interval at all, ``reason`` says why
    candidate: dict[str, Interval] = field(default_factory=dict)
    baseline: dict[str, Interval] = field(default_factory=dict)
    delta: dict[str, Interval] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    reason: str = ""


def resample_weights(n: int, replicates: int, rng: np.random.Generator) -> FloatArray:
    """``[replicates, n]``: how often each of ``n`` rows is drawn when n indices are drawn with replacement."""
    import numpy as np

    idx = rng.integers(0, n, size=(replicates, n))
    flat = (idx + n * np.arange(replicates)[:, None]).ravel()
    return np.bincount(flat, minlength=replicates * n).reshape(replicates, n).astype(np.float64)


def percentile_interval(values: npt.ArrayLike, level: float = LEVEL) -> Interval | None:
    """The central ``level`` share of ``values``; None when any value is NaN or infinite."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    if not v.size or not np.all(np.isfinite(v)):
        return None
    tail = 50.0 * (1.0 - level)
    low, high = np.percentile(v, [tail, 100.0 - tail])
    return Interval(float(low), float(high))


def replicates(names: Sequence[str], versions: Sequence[Rows], config: Bootstrap) -> list[dict[str, FloatArray]]:
    """Each metric's ``config.replicates`` bootstrap values for each version, all on the same resamples. Every
    version's and metric's per-row statistics are stacked, so a chunk of replicates costs one matrix product."""
    import numpy as np

    from mlops.core.metrics import SPECS, from_sums

    n = len(versions[0])
    rng = np.random.default_rng(config.seed)
    blocks = [(v, m, SPECS[m].stats(rows.labels, rows.outputs)) for v, rows in enumerate(versions) for m in names]
    stacked = np.concatenate([stats for _, _, stats in blocks], axis=1)
    edges = np.cumsum([0] + [stats.shape[1] for _, _, stats in blocks])
    out: list[dict[str, list[FloatArray]]] = [{m: [] for m in names} for _ in versions]
    chunk = max(1, CHUNK_CELLS // max(n, 1))
    for start in range(0, config.replicates, chunk):
        weights = resample_weights(n, min(chunk, config.replicates - start), rng)
        sums, totals = weights @ stacked, weights.sum(axis=1)
        for (v, m, _), lo, hi in zip(blocks, edges[:-1], edges[1:], strict=True):
            out[v][m].append(from_sums(m, sums[:, lo:hi], totals))
    return [{m: np.concatenate(parts) for m, parts in per_version.items()} for per_version in out]


def _same_labels(a: Rows, b: Rows) -> bool:
    import numpy as np

    return bool(np.array_equal(np.asarray(a.labels).reshape(-1), np.asarray(b.labels).reshape(-1)))


def paired_bootstrap(names: Sequence[str], candidate: Rows, baseline: Rows | None = None,
                     config: Bootstrap | None = None) -> Intervals:
    """Intervals of ``names`` for ``candidate``, ``baseline`` and Δ = candidate − baseline, from one set of
    resamples of the test rows. The baseline must have been scored on the same rows (same labels, same order)."""
    import numpy as np

    config = config or Bootstrap()
    n = len(candidate)
    if n == 0:
        return Intervals(None, reason="the test split is empty: nothing to resample")
    if len(np.asarray(candidate.outputs)) != n:
        raise ValueError(f"{len(np.asarray(candidate.outputs))} output rows for {n} labels")
    reason = ""
    if baseline is not None and not _same_labels(candidate, baseline):
        baseline, reason = None, "the baseline was scored on other rows: no paired Δ interval"
    reps = replicates(names, [candidate] if baseline is None else [candidate, baseline], config)
    found = Intervals(Bootstrap(config.replicates, config.seed, config.level, n, config.method), reason=reason)
    for m in names:
        if (interval := percentile_interval(reps[0][m], config.level)) is None:
            found.missing[m] = f"the candidate's {m} is not finite on some resamples (NaN or inf in its outputs)"
            continue
        found.candidate[m] = interval
        if baseline is None:
            continue
        base = percentile_interval(reps[1][m], config.level)
        if base is None:
            found.missing[m] = f"the baseline's {m} is not finite on some resamples (NaN or inf in its outputs)"
            continue
        found.baseline[m] = base
        delta = percentile_interval(reps[0][m] - reps[1][m], config.level)
        if delta is not None:
            found.delta[m] = delta
    return found


def regression(metric: str, delta: float) -> float:
    """How much worse a change ``delta`` (candidate − baseline) of ``metric`` is (negative: better)."""
    return -delta if metric in HIGHER_IS_BETTER else delta


def clearance(gate: GateResult) -> tuple[float | None, str]:
    """How far the pessimistic 95 % bounds clear the gate's rules (the smallest slack; negative: they do not),
    or None and why there is no bound to tell. A rule that does not apply (no baseline) clears by +inf."""
    if not gate.metric:  # a rule about the process, not a metric (the promotion order): certain either way
        return (math.inf, "") if gate.passed else (None, "failed")
    slacks = [math.inf]
    if gate.min is not None or gate.max is not None:
        if gate.value_low is None or gate.value_high is None:
            return None, f"no 95 % interval of {gate.metric}"
        slacks += [gate.value_low - gate.min] if gate.min is not None else []
        slacks += [gate.max - gate.value_high] if gate.max is not None else []
    if gate.max_regression is not None and gate.baseline is not None and math.isfinite(gate.baseline):
        if gate.delta_low is None or gate.delta_high is None:
            return None, f"no 95 % interval of Δ {gate.metric} against the baseline"
        worst = max(regression(gate.metric, gate.delta_low), regression(gate.metric, gate.delta_high))
        slacks.append(gate.max_regression - worst)
    return min(slacks), ""


@dataclass(frozen=True)
class Confidence:
    """Whether a verdict passes *with confidence* at ``margin``, and every reason it does not."""

    confident: bool
    margin: float
    reasons: tuple[str, ...] = ()

    def text(self) -> str:
        head = f"confident at margin {self.margin:g}: {'yes' if self.confident else 'no'}"
        return head + (f" ({'; '.join(self.reasons)})" if self.reasons else "")


def confidence(verdict: Verdict, margin: float | None = None) -> Confidence:
    """Does every gate pass with its pessimistic 95 % bound clearing its rule by at least ``margin`` (default: the
    margin the verdict was made with)? False without intervals: record-only verdicts, a baseline from its record."""
    m = verdict.margin if margin is None else margin
    if not m >= 0:
        raise ValueError(f"confidence margin {m}: expected a number ≥ 0")
    if verdict.bootstrap is None:
        return Confidence(False, m, (f"no 95 % intervals: {verdict.no_interval or 'the verdict has none'}",))
    reasons = []
    base = verdict.baseline
    if base is not None and base.source != "evaluated":
        reasons.append(f"baseline {base.version} is judged from its record, not on the same test rows: no paired "
                       "Δ interval")
    for g in verdict.gates:
        slack, why = clearance(g)
        if not g.passed:
            reasons.append(f"{g.name} failed")
        elif slack is None:
            reasons.append(f"{g.name}: {why}")
        elif slack < m - EPS:
            reasons.append(f"{g.name}: the 95 % bound clears the rule by {slack:.4f}, less than the margin {m:g}")
    return Confidence(not reasons, m, tuple(dict.fromkeys(reasons)))


def confident(verdict: Verdict, margin: float | None = None) -> bool:
    """:func:`confidence`'s yes or no: may a promotion under a policy with ``confidence_margin`` merge itself?"""
    return confidence(verdict, margin).confident
