"""The slice part of a verdict: the candidate's (and the baseline's) metrics per slice of ``evaluation.slices``
on the same test rows, and the model's slice gates judged from them.

When the scorer gives the rows' outputs and which slice each row is in (:class:`~mlops.evaluate.evaluate.Scores`
with ``rows`` and ``masks``), both versions are measured here on the same resamples
(:func:`mlops.core.slices.measure`); otherwise each version's record supplies its slices, and the verdict says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlops.core.confidence import Bootstrap, Rows
from mlops.core.policy import GateResult
from mlops.core.slicegates import judge_slices
from mlops.core.slices import Measured, measure
from mlops.core.spec.model import ModelSpec
from mlops.core.spec.record import SliceMetrics, VersionRecord

if TYPE_CHECKING:
    import numpy.typing as npt


@dataclass(frozen=True)
class Sliced:
    """Per-slice metrics of the candidate and the baseline, the slice gates' outcomes, and notes."""

    candidate: dict[str, SliceMetrics] = field(default_factory=dict)
    baseline: dict[str, SliceMetrics] = field(default_factory=dict)
    gates: tuple[GateResult, ...] = ()
    notes: tuple[str, ...] = ()


def _same_rows(a: Rows, b: Rows) -> bool:
    import numpy as np

    return bool(np.array_equal(np.asarray(a.labels).reshape(-1), np.asarray(b.labels).reshape(-1)))


def _from_record(record: VersionRecord | None) -> Measured | None:
    return None if record is None or not record.slices else Measured.from_record(record.slices)


def slice_verdict(spec: ModelSpec, candidate: VersionRecord, rows: Rows | None,
                  masks: Mapping[str, npt.ArrayLike] | None, baseline: VersionRecord | None,
                  baseline_rows: Rows | None, config: Bootstrap | None = None) -> Sliced:
    """Measure (or read from the records) and judge the slices; nothing when the spec names none."""
    slices = spec.evaluation.slices
    if not slices:
        return Sliced()
    config = config or Bootstrap()
    names = sorted(set(spec.evaluation.metrics) | {g.metric for g in spec.evaluation.slice_gates})
    order = [s.name for s in slices]
    notes: list[str] = []
    cand: Measured | None
    base: Measured | None = _from_record(baseline)
    if rows is not None and masks is not None:
        paired = baseline_rows is not None and _same_rows(rows, baseline_rows)
        versions: Sequence[Rows] = [rows, baseline_rows] if paired and baseline_rows is not None else [rows]
        measured = measure(names, versions, {s: masks[s] for s in order if s in masks}, config)
        cand = measured[0]
        if paired:
            base = measured[1]
        elif baseline is not None:
            notes.append(f"the baseline {baseline.version}'s slice metrics are from its record" +
                         (" (none recorded)" if base is None else ""))
    else:
        cand = _from_record(candidate)
        notes.append(f"slice metrics of {candidate.version} are from its record: the scorer gave no per-row "
                     "slice membership")
    return _judged(spec, candidate.version, cand, base, notes, config.level)


def _judged(spec: ModelSpec, version: str, cand: Measured | None, base: Measured | None, notes: list[str],
            level: float = 0.95) -> Sliced:
    missing = f"the record of {version} has no slice metrics (trained before evaluation.slices named any)"
    judged = judge_slices(spec.evaluation.slice_gates, cand, base, [s.name for s in spec.evaluation.slices],
                          missing=missing, level=level)
    return Sliced(cand.scores if cand else {}, base.scores if base else {}, judged, tuple(notes))


def record_slices(spec: ModelSpec, candidate: VersionRecord, baseline: VersionRecord | None) -> Sliced:
    """From the version records alone (verdicts on pins: no test rows are scored, the records' slices decide)."""
    if not spec.evaluation.slices:
        return Sliced()
    return _judged(spec, candidate.version, _from_record(candidate), _from_record(baseline), [])

