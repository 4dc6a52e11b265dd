"""The comparison's behaviour, through the local engine (same plan, tests and correction as the evidently one)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops.adapters.drift import ColumnDrift, DriftResult, drift_engine
from mlops.adapters.drift.local import LocalDriftEngine
from mlops.adapters.drift.plan import sample
from mlops.core.drift import DEFAULT_ALPHA
from tests.unit.adapters.drift.drift_helpers import KINDS, window

ENGINE = LocalDriftEngine()


def test_unchanged_data_is_no_drift_and_every_test_is_at_the_corrected_level() -> None:
    res = ENGINE.compare(window(1, 4_000), window(2, 1_500), KINDS, prediction="pred")
    assert res.verdict == "no drift" and not res.drifted and res.drifted_columns == [] and res.share == 0.0
    assert [t.column for t in res.tests] == ["x", "pix", "cnt", "cat", "pred"]
    assert [t.threshold for t in res.tests] == [pytest.approx(DEFAULT_ALPHA / 5)] * 5
    assert [t.method for t in res.tests] == ["ks", "ks+chi2", "ks+chi2", "chi2", "chi2"]
    assert "17 distinct reference values: tested as discrete" in res.columns[1].detail  # float32 pixels
    assert res.columns[1].kind == "discrete"


def test_a_shift_is_drift_in_that_column_only() -> None:
    res = ENGINE.compare(window(1, 4_000), window(2, 1_500, shift=0.3), KINDS, prediction="pred")
    assert res.verdict == "drift" and res.drifted_columns == ["x"] and res.share == 0.25
    x = res.columns[0]
    assert x.p_value is not None and x.p_value <= x.threshold and x.statistic is not None and x.statistic > 0.1


def test_prediction_drift_is_reported_apart() -> None:
    cur = window(2, 1_500)
    cur["pred"] = np.where(np.arange(1_500) % 3 == 0, 7, cur["pred"])
    res = ENGINE.compare(window(1, 4_000), cur, KINDS, prediction="pred")
    assert res.verdict == "drift" and res.drifted_columns == [] and res.prediction is not None
    assert res.prediction.drifted and res.to_dict()["prediction_drifted"] is True


def test_a_small_window_is_insufficient_never_no_drift() -> None:
    res = ENGINE.compare(window(1, 4_000), window(2, 60), KINDS, prediction="pred", min_rows=100)
    assert res.verdict == "insufficient data" and not res.drifted
    assert res.insufficient == "the current window has 60 rows; at least 100 are needed to decide"
    assert all(t.insufficient == res.insufficient and t.p_value is None for t in res.tests)
    assert res.to_dict()["undecided"] == ["x", "pix", "cnt", "cat", "pred"]


def test_a_column_missing_from_the_window_is_undecided() -> None:
    res = ENGINE.compare(window(1, 4_000), window(2, 1_500).drop(columns=["cnt"]), KINDS)
    cnt = res.columns[2]
    assert (cnt.column, cnt.insufficient, cnt.drifted) == ("cnt", "missing from the current window", False)
    assert res.verdict == "insufficient data" and res.undecided == ["cnt"]
    assert res.columns[0].threshold == pytest.approx(DEFAULT_ALPHA / 4)  # the family is the configuration


def test_drift_elsewhere_still_wins_over_an_undecided_column() -> None:
    res = ENGINE.compare(window(1, 4_000), window(2, 1_500, shift=0.5).drop(columns=["cat"]), KINDS)
    assert res.verdict == "drift" and res.undecided == ["cat"]


def test_missing_values_are_left_out_and_said() -> None:
    ref, cur = window(1, 4_000), window(2, 1_500)
    cur.loc[cur.index[:300], "x"] = np.nan
    cur.loc[cur.index[:150], "cat"] = None
    cur.loc[cur.index[-10:], "x"] = np.inf
    res = ENGINE.compare(ref, cur, KINDS)
    assert res.verdict == "no drift"
    assert "20.7% missing or infinite in current, left out" in res.columns[0].detail
    assert "10.0% missing or infinite in current, left out" in res.columns[3].detail


def test_too_few_values_in_one_column_is_undecided() -> None:
    cur = window(2, 1_500)
    cur.loc[cur.index[40:], "x"] = np.nan
    res = ENGINE.compare(window(1, 4_000), cur, KINDS, min_rows=100)
    assert res.columns[0].insufficient == "40 usable values in the current sample; at least 100 are needed to decide"
    assert res.verdict == "insufficient data"


def test_text_in_a_numeric_column_is_undecided_not_a_crash() -> None:
    cur = window(2, 1_500).astype({"x": str})
    res = ENGINE.compare(window(1, 4_000), cur, KINDS)
    assert res.columns[0].insufficient == "not numeric in the current window (dtype object)"


def test_constant_columns_are_decided() -> None:
    ref, cur = window(1, 4_000).assign(pix=0.0, cat="a"), window(2, 1_500).assign(pix=0.0, cat="a")
    res = ENGINE.compare(ref, cur, KINDS)
    assert res.verdict == "no drift"
    assert res.columns[1].p_value == 1.0 and "constant in both windows (0)" in res.columns[1].detail
    assert "constant in both windows ('a')" in res.columns[3].detail
    moved = ENGINE.compare(ref, cur.assign(pix=np.where(np.arange(1_500) < 300, 5.0, 0.0)), KINDS)
    assert moved.drifted_columns == ["pix"]


def test_unseen_categories_are_named() -> None:
    cur = window(2, 1_500)
    cur.loc[cur.index[:200], "cat"] = "zz"
    res = ENGINE.compare(window(1, 4_000), cur, KINDS)
    assert res.drifted_columns == ["cat"] and res.columns[3].detail.endswith("1 unseen category: 'zz'")


def test_samples_are_seeded_bounded_and_keep_order() -> None:
    frame = pd.DataFrame({"a": np.arange(10_000), "b": np.arange(10_000) * 2})
    one, two = sample(frame, ["a"], 500, seed=3), sample(frame, ["a"], 500, seed=3)
    assert len(one) == 500 and one.equals(two) and one["a"].is_monotonic_increasing and list(one.columns) == ["a"]
    assert not one.equals(sample(frame, ["a"], 500, seed=4))
    assert len(sample(frame, ["a", "b"], 20_000, seed=3)) == 10_000
    small = LocalDriftEngine(reference_rows=1_000, current_rows=700).compare(window(1, 4_000), window(2, 1_500), KINDS)
    assert (small.reference_rows, small.current_rows, small.reference_total, small.current_total) == \
        (1_000, 700, 4_000, 1_500)
    assert small.notes == ("compared a seeded sample of 1,000 of the 4,000 reference rows",
                           "compared a seeded sample of 700 of the 1,500 current rows")


def test_same_inputs_same_verdict() -> None:
    a = ENGINE.compare(window(1, 30_000), window(2, 25_000), KINDS, prediction="pred").to_dict()
    b = ENGINE.compare(window(1, 30_000), window(2, 25_000), KINDS, prediction="pred").to_dict()
    assert a == b and a["reference_rows"] == 20_000 and a["current_rows"] == 20_000


def test_json_verdict_is_valid_json() -> None:
    res = ENGINE.compare(window(1, 4_000), window(2, 1_500, shift=2.0), KINDS, prediction="pred")
    doc = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert doc["verdict"] == "drift" and doc["tests"] == 5 and doc["columns"][0]["p_value"] is not None
    infinite = DriftResult((ColumnDrift("x", "numeric", "ks", float("inf"), float("nan"), 0.01, False, ""),), None,
                           0.01, 1, 1)
    assert infinite.to_dict()["columns"][0]["statistic"] is None  # JSON has no infinities


def test_bad_arguments_are_refused() -> None:
    ref, cur = window(1, 500), window(2, 500)
    with pytest.raises(ValueError, match="kind 'text'; expected one of numeric, discrete, categorical"):
        ENGINE.compare(ref, cur, {"x": "text"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="nothing to compare"):
        ENGINE.compare(ref, cur, {})
    with pytest.raises(ValueError, match="also listed as a feature"):
        ENGINE.compare(ref, cur, KINDS, prediction="x")
    with pytest.raises(ValueError, match=r"alpha 1\.5 is outside"):
        ENGINE.compare(ref, cur, KINDS, alpha=1.5)


def test_local_html_report_is_a_table_written_atomically(tmp_path: Path) -> None:
    path = tmp_path / "out" / "drift.html"
    assert ENGINE.html_report(window(1, 4_000), window(2, 1_500, shift=1.0), KINDS, path, prediction="pred") == path
    text = path.read_text()
    assert "<h1>Drift: drift</h1>" in text and "<td>x</td>" in text and "<td>pred</td>" in text
    assert [p.name for p in path.parent.iterdir()] == ["drift.html"]


def test_the_factory_gives_the_local_engine() -> None:
    engine = drift_engine(local=True, reference_rows=500, seed=3)
    assert isinstance(engine, LocalDriftEngine) and engine.reference_rows == 500 and engine.seed == 3


def test_importing_the_seam_is_light() -> None:
    code = ("import sys, mlops.adapters.drift; "
            "print(sorted(m for m in ('evidently', 'pandas', 'scipy', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
