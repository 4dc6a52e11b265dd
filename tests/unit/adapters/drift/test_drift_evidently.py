"""The evidently engine: evidently runs the calibrated tests and agrees with them; its HTML report is atomic."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlops.adapters.drift.evidently_engine as module
from mlops.adapters.drift import drift_engine
from mlops.adapters.drift.evidently_engine import EvidentlyDriftEngine, _read
from mlops.adapters.drift.local import LocalDriftEngine
from mlops.adapters.drift.stattests import Outcome
from mlops.core.errors import UserError
from tests.unit.adapters.drift.drift_helpers import KINDS, window


@pytest.fixture(scope="module")
def engine() -> EvidentlyDriftEngine:
    made = drift_engine(reference_rows=3_000, current_rows=1_200)
    assert isinstance(made, EvidentlyDriftEngine)
    return made


def messy() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Missing values, an infinity, an unseen category, a constant column, a shift and ties."""
    ref, cur = window(1, 4_000).assign(const=3.0), window(2, 1_500, shift=0.3).assign(const=3.0)
    cur.loc[cur.index[:100], "x"] = np.nan
    cur.loc[cur.index[100], "x"] = np.inf
    cur.loc[cur.index[:80], "cat"] = "zz"
    ref.loc[ref.index[:40], "cat"] = None
    return ref, cur


def test_evidently_reports_the_same_p_values_as_the_tests_called_directly(engine: EvidentlyDriftEngine) -> None:
    ref, cur = messy()
    kinds = {**KINDS, "const": "numeric"}
    got = engine.compare(ref, cur, kinds, prediction="pred")
    want = LocalDriftEngine(reference_rows=3_000, current_rows=1_200).compare(ref, cur, kinds, prediction="pred")
    assert got.to_dict() == want.to_dict()
    assert got.drifted_columns == ["x", "cat"] and got.verdict == "drift"
    assert [c.method for c in got.tests] == ["ks", "ks+chi2", "ks+chi2", "chi2", "ks+chi2", "chi2"]


def test_category_dtype_and_booleans_agree_too(engine: EvidentlyDriftEngine) -> None:
    ref, cur = window(1, 3_000), window(2, 1_000)
    dtype = pd.CategoricalDtype(["a", "b", "c", "never"])
    ref, cur = ref.astype({"cat": dtype}), cur.astype({"cat": dtype})
    ref["flag"], cur["flag"] = ref["x"] > 0, cur["x"] > 0.5  # P(x > 0.5) is 0.31, not 0.5: drift
    kinds = {"cat": "categorical", "flag": "categorical"}
    got = engine.compare(ref, cur, kinds)
    want = LocalDriftEngine(reference_rows=3_000, current_rows=1_200).compare(ref, cur, kinds)
    assert got.to_dict() == want.to_dict()
    assert got.drifted_columns == ["flag"] and "unseen" not in got.columns[0].detail


def test_disagreement_with_evidently_is_a_bug_not_a_guess(engine: EvidentlyDriftEngine,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(module.TESTS, "numeric", lambda r, c: Outcome("ks", 0.0, 0.5, "wrong"))
    with pytest.raises(RuntimeError, match=r"column 'x': evidently's verdict .* disagrees with its own test"):
        engine.compare(window(1, 2_000), window(2, 1_000), {"x": "numeric"})


def test_read_joins_tests_to_metrics_on_metric_id() -> None:
    snapshot = {
        "metrics": [{"id": "m1", "config": {"type": "evidently:metric_v2:ValueDrift", "column": "a"}, "value": 0.2},
                    {"id": "m2", "config": {"type": "evidently:metric_v2:ValueDrift", "column": "b"}, "value": 1e-9},
                    {"id": "m3", "config": {"type": "evidently:metric_v2:RowCount"}, "value": 10}],
        "tests": [{"metric_config": {"metric_id": "m2"}, "status": "FAIL"},
                  {"metric_config": {"metric_id": "m1"}, "status": "SUCCESS"},
                  {"metric_config": {"metric_id": "m3"}, "status": "FAIL"}],
    }
    assert _read(snapshot) == {"a": (0.2, False), "b": (1e-9, True)}


def test_an_insufficient_window_runs_nothing(engine: EvidentlyDriftEngine) -> None:
    res = engine.compare(window(1, 2_000), window(2, 30), KINDS, prediction="pred", min_rows=50)
    assert res.verdict == "insufficient data" and res.current_rows == 30
    assert res.insufficient == "the current window has 30 rows; at least 50 are needed to decide"


def test_a_missing_column_is_left_out_of_evidently_and_undecided(engine: EvidentlyDriftEngine) -> None:
    res = engine.compare(window(1, 2_000), window(2, 800).drop(columns=["pix"]), KINDS)
    assert res.undecided == ["pix"] and res.verdict == "insufficient data"
    assert [c.p_value is not None for c in res.columns] == [True, False, True, True]


def test_html_report_uses_the_same_tests_and_is_written_atomically(engine: EvidentlyDriftEngine,
                                                                   tmp_path: Path) -> None:
    path = tmp_path / "reports" / "drift.html"
    ref, cur = messy()
    assert engine.html_report(ref, cur, KINDS, path, prediction="pred", sample_rows=1_000) == path
    text = path.read_text()
    assert "mlops_ks" in text and "mlops_levels" in text and "mlops_chi2" in text and "pred" in text
    assert [p.name for p in path.parent.iterdir()] == ["drift.html"]


def test_compare_writes_the_html_of_its_own_run(engine: EvidentlyDriftEngine, tmp_path: Path) -> None:
    ref, cur = messy()
    path = tmp_path / "monitor" / "drift.html"
    res = engine.compare(ref, cur, KINDS, prediction="pred", report=path)
    assert res == engine.compare(ref, cur, KINDS, prediction="pred")  # writing the report changes nothing
    text = path.read_text()
    assert all(c in text for c in ("mlops_ks", "mlops_levels", "mlops_chi2", "pred"))
    assert [p.name for p in path.parent.iterdir()] == ["drift.html"]
    small = engine.compare(window(1, 1_000), window(2, 20), KINDS, report=path)
    assert small.verdict == "insufficient data" and "the current window has 20 rows" in path.read_text()


def test_a_failed_html_write_keeps_the_old_report(engine: EvidentlyDriftEngine, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "drift.html"
    path.write_text("old")

    def refuse(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(UserError, match="cannot write: disk full"):
        engine.html_report(window(1, 1_000), window(2, 500), {"x": "numeric"}, path, sample_rows=500)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["drift.html"]


def test_html_report_of_an_untestable_window_says_why(engine: EvidentlyDriftEngine, tmp_path: Path) -> None:
    path = engine.html_report(window(1, 1_000), window(2, 20), KINDS, tmp_path / "drift.html")
    text = path.read_text()
    assert "Drift: insufficient data" in text and "the current window has 20 rows" in text
