"""The local DriftEngine: the same samples, tests and correction as the evidently engine, without evidently.

It calls the test functions of :mod:`mlops.adapters.drift.stattests` directly (scipy), so its verdicts
equal the evidently engine's on the same data (the tests check this), in milliseconds and without
evidently's import (seconds). The demo and the calibration simulation use it; its HTML report is a
plain table of the verdict rather than evidently's charts.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from mlops.adapters.drift import DriftEngine, DriftResult
from mlops.adapters.drift.plan import CURRENT_ROWS, REFERENCE_ROWS, plan, result
from mlops.adapters.drift.stattests import TESTS
from mlops.core.atomic import write_text
from mlops.core.drift import DEFAULT_ALPHA, Kind


class LocalDriftEngine:
    """Compares seeded samples (≤ ``reference_rows`` / ``current_rows``) column by column with scipy."""

    def __init__(self, *, reference_rows: int = REFERENCE_ROWS, current_rows: int = CURRENT_ROWS, seed: int = 0
                 ) -> None:
        self.reference_rows, self.current_rows, self.seed = reference_rows, current_rows, seed

    def compare(self, reference: pd.DataFrame, current: pd.DataFrame, kinds: Mapping[str, Kind], *,
                prediction: str | None = None, prediction_kind: Kind = "categorical", alpha: float = DEFAULT_ALPHA,
                min_rows: int = 100, report: Path | None = None) -> DriftResult:
        """Test each column of ``kinds`` and the prediction; see :class:`~mlops.adapters.drift.DriftEngine`."""
        p = plan(reference, current, kinds, prediction=prediction, prediction_kind=prediction_kind, alpha=alpha,
                 min_rows=min_rows, reference_rows=self.reference_rows, current_rows=self.current_rows,
                 seed=self.seed)
        outcomes = {c.column: TESTS[c.kind](*c.values) for c in p.testable if c.values is not None}
        res = result(p, outcomes)
        if report is not None:
            write_text(report, table_page(res, alpha))
        return res

    def html_report(self, reference: pd.DataFrame, current: pd.DataFrame, kinds: Mapping[str, Kind], path: Path, *,
                    prediction: str | None = None, prediction_kind: Kind = "categorical", alpha: float = DEFAULT_ALPHA,
                    sample_rows: int | None = None, min_rows: int = 100) -> Path:
        """A plain HTML table of :meth:`compare` (samples bounded by ``sample_rows`` if given), written atomically."""
        engine = self if not sample_rows else LocalDriftEngine(reference_rows=sample_rows, current_rows=sample_rows,
                                                               seed=self.seed)
        engine.compare(reference, current, kinds, prediction=prediction, prediction_kind=prediction_kind,
                       alpha=alpha, min_rows=min_rows, report=path)
        return path


def table_page(res: DriftResult, alpha: float) -> str:
    """The verdict as a plain HTML table (no charts): every test, its p-value, threshold and why."""
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            t.column, t.kind, t.method, "" if t.p_value is None else f"{t.p_value:.3g}", f"{t.threshold:.3g}",
            "drift" if t.drifted else ("cannot decide" if t.insufficient else "no drift"), t.detail)) + "</tr>"
        for t in res.tests)
    head = "".join(f"<th>{h}</th>" for h in ("column", "kind", "test", "p-value", "threshold", "verdict", "detail"))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Drift: {res.verdict}</title></head><body>"
            f"<h1>Drift: {html.escape(res.verdict)}</h1><p>{res.reference_rows} reference rows, "
            f"{res.current_rows} current rows, family-wise level {alpha}</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></body></html>")


if TYPE_CHECKING:  # mypy checks that the class satisfies the seam's protocol
    _engine: DriftEngine = LocalDriftEngine()
