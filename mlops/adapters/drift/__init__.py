"""The DriftEngine seam: compare a current window of production rows with the model's reference data.

A verdict is trusted only if its error rate is known: the engine tests every monitored column (and the
prediction column) with a test that is valid for the column's kind, at a Bonferroni-corrected level, so
that on unchanged data at most ``alpha`` of runs raise drift in any column (the family-wise error rate).
A window too small to decide is *insufficient*, never "no drift".

This module is light on purpose (no pandas, scipy or evidently at import: the monitor's callers import
it cheaply); :func:`drift_engine` loads the real implementation,
:class:`~mlops.adapters.drift.evidently_engine.EvidentlyDriftEngine`, or the local one,
:class:`~mlops.adapters.drift.local.LocalDriftEngine` (the same tests without evidently).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from mlops.core.drift import DEFAULT_ALPHA, Kind, kinds_from_dtypes

if TYPE_CHECKING:
    from pandas import DataFrame


__all__ = ["ColumnDrift", "DriftEngine", "DriftResult", "Kind", "Verdict", "drift_engine", "kinds_from_dtypes"]

Verdict = Literal["drift", "no drift", "insufficient data"]


def _num(value: float | None) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class ColumnDrift:
    """The test of one column: ``drifted`` when ``p_value ≤ threshold`` (the corrected per-column level).

    ``insufficient`` says why the column could not be decided (too few values, missing from a window,
    wrong type); then ``p_value`` and ``statistic`` are ``None`` and ``drifted`` is False, but the
    result's verdict is "insufficient data", not "no drift".
    """

    column: str
    kind: Kind
    method: str  # the test that ran: ks, ks+chi2, ks+fisher, chi2, fisher
    statistic: float | None
    p_value: float | None
    threshold: float
    drifted: bool
    detail: str
    insufficient: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "kind": self.kind, "method": self.method,
                "statistic": _num(self.statistic), "p_value": _num(self.p_value), "threshold": self.threshold,
                "drifted": self.drifted, "detail": self.detail, "insufficient": self.insufficient}


@dataclass(frozen=True)
class DriftResult:
    """One comparison: the columns' tests, the prediction's, and the rows they saw.

    ``alpha`` is the family-wise level: over runs on unchanged data, at most ``alpha`` of them report
    any drifted column. ``reference_rows``/``current_rows`` are the rows compared (seeded samples of at
    most the engine's caps), ``*_total`` the rows offered.
    """

    columns: tuple[ColumnDrift, ...]
    prediction: ColumnDrift | None
    alpha: float
    reference_rows: int
    current_rows: int
    reference_total: int = 0
    current_total: int = 0
    insufficient: str | None = None  # why the whole window could not be decided
    notes: tuple[str, ...] = field(default=())

    @property
    def tests(self) -> tuple[ColumnDrift, ...]:
        """Every test of the family: the columns, then the prediction."""
        return self.columns + ((self.prediction,) if self.prediction is not None else ())

    @property
    def drifted(self) -> bool:
        return any(t.drifted for t in self.tests)

    @property
    def drifted_columns(self) -> list[str]:
        """The feature columns that drifted (the prediction is reported apart)."""
        return [c.column for c in self.columns if c.drifted]

    @property
    def undecided(self) -> list[str]:
        return [t.column for t in self.tests if t.insufficient is not None]

    @property
    def share(self) -> float:
        """The share of feature columns that drifted."""
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    @property
    def verdict(self) -> Verdict:
        """Drift found anywhere wins (its error rate is controlled); else anything undecided is insufficient."""
        if self.drifted:
            return "drift"
        if self.insufficient is not None or self.undecided:
            return "insufficient data"
        return "no drift"

    def to_dict(self) -> dict[str, Any]:
        """The JSON verdict."""
        return {"verdict": self.verdict, "drifted": self.drifted, "alpha": self.alpha, "tests": len(self.tests),
                "drifted_columns": self.drifted_columns, "share": self.share,
                "prediction_drifted": bool(self.prediction and self.prediction.drifted),
                "insufficient": self.insufficient, "undecided": self.undecided,
                "reference_rows": self.reference_rows, "current_rows": self.current_rows,
                "reference_total": self.reference_total, "current_total": self.current_total,
                "notes": list(self.notes), "columns": [c.to_dict() for c in self.columns],
                "prediction": self.prediction.to_dict() if self.prediction is not None else None}


class DriftEngine(Protocol):
    """Compares a current window with reference data, column by column, at a family-wise level."""

    def compare(self, reference: DataFrame, current: DataFrame, kinds: Mapping[str, Kind], *,
                prediction: str | None = None, prediction_kind: Kind = "categorical", alpha: float = DEFAULT_ALPHA,
                min_rows: int = 100, report: Path | None = None) -> DriftResult:
        """Test each column of ``kinds`` (and ``prediction``); below ``min_rows`` values: insufficient. With
        ``report``, the HTML report of this very comparison (same samples, same tests) is written there
        atomically."""
        ...

    def html_report(self, reference: DataFrame, current: DataFrame, kinds: Mapping[str, Kind], path: Path, *,
                    prediction: str | None = None, prediction_kind: Kind = "categorical", alpha: float = DEFAULT_ALPHA,
                    sample_rows: int | None = None, min_rows: int = 100) -> Path:
        """Write the HTML drift report of seeded samples (``compare``'s own, or at most ``sample_rows`` rows)
        of both windows to ``path``, atomically; return ``path``."""
        ...


def drift_engine(*, local: bool = False, **options: Any) -> DriftEngine:
    """The evidently engine (imports evidently, pandas and scipy: seconds), or with ``local`` the same
    comparison run without evidently. ``options``: ``reference_rows``, ``current_rows``, ``seed``."""
    if local:
        from mlops.adapters.drift.local import LocalDriftEngine

        return LocalDriftEngine(**options)
    from mlops.adapters.drift.evidently_engine import EvidentlyDriftEngine

    return EvidentlyDriftEngine(**options)
