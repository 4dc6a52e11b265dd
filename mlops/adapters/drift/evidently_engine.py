"""The real DriftEngine: evidently 0.7 runs the calibrated tests, one ``ValueDrift`` per column.

How evidently is used, and why:

- An explicit ``DataDefinition`` (numeric and discrete columns numerical, the rest categorical): no
  type guessing from the data.
- ``ValueDrift(column, method, threshold)`` with explicit methods: the tests of
  :mod:`mlops.adapters.drift.stattests`, registered through evidently's ``register_stattest``, at the
  Bonferroni level. Not ``DataDriftPreset`` for the verdict: it computes every column three times.
- ``Report(..., include_tests=True).run(current, reference)`` (current first); each column's p-value is
  the metric's value and its verdict the test's status, joined on ``metric_id``.

The statistic and the sentence for people come from the same test function on the same sample; if
evidently's p-value ever disagrees with it, that is a bug and the engine says so rather than guess.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pandas as pd

from mlops.adapters.drift import DriftEngine, DriftResult
from mlops.adapters.drift.plan import CURRENT_ROWS, REFERENCE_ROWS, Plan, plan, result
from mlops.adapters.drift.stattests import TESTS, Outcome, quiet, register
from mlops.core.atomic import write_text
from mlops.core.drift import DEFAULT_ALPHA, Kind


def load_evidently() -> SimpleNamespace:
    """The few evidently names the engine uses, imported on first use (import takes seconds)."""
    with quiet():
        from evidently import DataDefinition, Dataset, Report
        from evidently.metrics import ValueDrift
        from evidently.presets import DataDriftPreset

        register()
    return SimpleNamespace(DataDefinition=DataDefinition, Dataset=Dataset, Report=Report, ValueDrift=ValueDrift,
                           DataDriftPreset=DataDriftPreset)


class EvidentlyDriftEngine:
    """Compares seeded samples (≤ ``reference_rows`` / ``current_rows``) column by column with evidently.

    Defaults: 20,000 rows each. The test's power depends on ``n·m/(n+m)``; a 20,000-row reference keeps
    it within 20 % of an infinite reference for windows up to 5,000 rows (and the training data of most
    models is smaller: then all of it is used). 20,000 current rows find a 0.25 σ shift essentially
    always, while the cost stays a few seconds whatever the size of the log.
    """

    def __init__(self, *, reference_rows: int = REFERENCE_ROWS, current_rows: int = CURRENT_ROWS, seed: int = 0
                 ) -> None:
        self.reference_rows, self.current_rows, self.seed = reference_rows, current_rows, seed

    def _plan(self, reference: pd.DataFrame, current: pd.DataFrame, kinds: Mapping[str, Kind],
              prediction: str | None, prediction_kind: Kind, alpha: float, min_rows: int,
              rows: tuple[int, int] | None = None) -> Plan:
        ref_rows, cur_rows = rows or (self.reference_rows, self.current_rows)
        return plan(reference, current, kinds, prediction=prediction, prediction_kind=prediction_kind,
                    alpha=alpha, min_rows=min_rows, reference_rows=ref_rows, current_rows=cur_rows, seed=self.seed)

    @staticmethod
    def _datasets(p: Plan) -> tuple[SimpleNamespace, Any, Any, dict[str, str]]:
        """evidently, both samples as evidently datasets (explicit definition), and each column's method."""
        ev = load_evidently()
        names = register()
        methods = {c.column: names[c.kind] for c in p.testable}
        numerical = [c.column for c in p.testable if c.kind != "categorical"]
        categorical = [c.column for c in p.testable if c.kind == "categorical"]
        definition = ev.DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
        with quiet():
            current = ev.Dataset.from_pandas(p.current, data_definition=definition)
            reference = ev.Dataset.from_pandas(p.reference, data_definition=definition)
        return ev, current, reference, methods

    def compare(self, reference: pd.DataFrame, current: pd.DataFrame, kinds: Mapping[str, Kind], *,
                prediction: str | None = None, prediction_kind: Kind = "categorical", alpha: float = DEFAULT_ALPHA,
                min_rows: int = 100, report: Path | None = None) -> DriftResult:
        """Test each column of ``kinds`` and the prediction; see :class:`~mlops.adapters.drift.DriftEngine`.
        ``report``: evidently's HTML of this very run (each column's distributions, test and p-value)."""
        p = self._plan(reference, current, kinds, prediction, prediction_kind, alpha, min_rows)
        if not p.testable:
            res = result(p, {})
            if report is not None:
                from mlops.adapters.drift.local import table_page

                write_text(report, table_page(res, alpha))  # nothing to chart: the table says why
            return res
        ev, cur, ref, methods = self._datasets(p)
        metrics = [ev.ValueDrift(column=c, method=m, threshold=p.threshold) for c, m in methods.items()]
        with quiet():
            snapshot = ev.Report(metrics, include_tests=True).run(cur, ref)  # current first
            if report is not None:
                write_text(report, snapshot.get_html_str(as_iframe=False))
        found = _read(snapshot.dict())
        outcomes: dict[str, Outcome] = {}
        for planned in p.testable:
            if planned.column not in found or planned.values is None:
                raise RuntimeError(f"evidently returned no drift test for column {planned.column!r}; a bug")
            p_value, failed = found[planned.column]
            mine = TESTS[planned.kind](*planned.values)
            if not math.isclose(p_value, mine.p_value, rel_tol=1e-9, abs_tol=1e-300) or \
                    failed != (p_value <= p.threshold):
                raise RuntimeError(f"column {planned.column!r}: evidently's verdict (p={p_value}, failed={failed}) "
                                   f"disagrees with its own test (p={mine.p_value}); a bug")
            outcomes[planned.column] = mine
        return result(p, outcomes)

    def html_report(self, reference: pd.DataFrame, current: pd.DataFrame, kinds: Mapping[str, Kind], path: Path, *,
                    prediction: str | None = None, prediction_kind: Kind = "categorical", alpha: float = DEFAULT_ALPHA,
                    sample_rows: int | None = None, min_rows: int = 100) -> Path:
        """evidently's ``DataDriftPreset`` HTML with the same tests and corrected threshold as :meth:`compare`.

        By default on the very samples :meth:`compare` draws (same caps, same seed), so the report's
        colours and p-values are the verdict's; ``sample_rows`` bounds both samples to fewer rows instead
        (evidently's charts, not the row count, dominate its cost: ~15 s for 65 columns). Written atomically.
        Columns that cannot be tested are left out (the verdict names them); when none can be tested the
        page is the plain table of :class:`~mlops.adapters.drift.local.LocalDriftEngine`, which says why.
        """
        rows = (sample_rows, sample_rows) if sample_rows else None
        p = self._plan(reference, current, kinds, prediction, prediction_kind, alpha, min_rows, rows)
        if not p.testable:
            from mlops.adapters.drift.local import LocalDriftEngine

            return LocalDriftEngine(seed=self.seed).html_report(
                reference, current, kinds, path, prediction=prediction, prediction_kind=prediction_kind,
                alpha=alpha, sample_rows=sample_rows, min_rows=min_rows)
        ev, cur, ref, methods = self._datasets(p)
        preset = ev.DataDriftPreset(columns=list(methods), per_column_method=dict(methods),
                                    per_column_threshold=dict.fromkeys(methods, p.threshold),
                                    drift_share=1 / (len(methods) + 1))  # one drifted column is dataset drift
        with quiet():
            html = ev.Report([preset], include_tests=True).run(cur, ref).get_html_str(as_iframe=False)
        write_text(path, html)
        return path


def _read(snapshot: Mapping[str, Any]) -> dict[str, tuple[float, bool]]:
    """Column → (p-value, test failed), joining the snapshot's tests to its metrics on ``metric_id``."""
    values = {m["id"]: (m["config"]["column"], float(m["value"])) for m in snapshot["metrics"]
              if m.get("config", {}).get("type") == "evidently:metric_v2:ValueDrift"}
    found: dict[str, tuple[float, bool]] = {}
    for test in snapshot["tests"]:
        metric_id = test.get("metric_config", {}).get("metric_id")
        if metric_id in values:
            column, p_value = values[metric_id]
            found[column] = (p_value, str(getattr(test["status"], "value", test["status"])) == "FAIL")
    return found


if TYPE_CHECKING:  # mypy checks that the class satisfies the seam's protocol
    _engine: DriftEngine = EvidentlyDriftEngine()
