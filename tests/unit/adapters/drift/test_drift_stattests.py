"""The tests behind each column kind: p-values cross-checked with scipy, ties, unseen categories, sparse cells."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlops.adapters.drift import stattests
from mlops.core.drift import merge_adjacent, merge_rare, min_pooled
from tests.unit.adapters.drift.drift_helpers import PIXEL_P


def test_ks_is_scipys_two_sample_ks() -> None:
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(0, 1, 3_000), rng.normal(0.1, 1, 1_000)  # n·m > EXACT_KS: asymptotic
    out = stattests.ks(ref, cur)
    want = stats.ks_2samp(ref, cur, method="asymp")
    assert (out.method, out.statistic, out.p_value) == ("ks", pytest.approx(want.statistic), pytest.approx(want.pvalue))
    small = stattests.ks(ref[:200], cur[:300])  # exact below EXACT_KS
    assert small.p_value == pytest.approx(stats.ks_2samp(ref[:200], cur[:300], method="exact").pvalue)


def test_levels_is_twice_the_smaller_of_scipys_ks_and_chi2_on_merged_levels() -> None:
    rng = np.random.default_rng(2)
    ref = rng.poisson(1.0, 4_000).astype(float)
    cur = rng.poisson(1.15, 1_000).astype(float)
    out = stattests.levels(ref, cur)
    values = np.union1d(ref, cur)
    r = [int((ref == v).sum()) for v in values]
    c = [int((cur == v).sum()) for v in values]
    mr, mc = merge_adjacent(r, c, min_pooled(len(ref), len(cur)))
    chi2 = stats.chi2_contingency(np.array([mr, mc]), correction=False)
    ks = stats.ks_2samp(ref, cur, method="asymp")
    assert out.p_value == pytest.approx(min(1.0, 2 * min(chi2.pvalue, ks.pvalue)))
    assert out.method == "ks+chi2" and f"on {len(mr)} cells ({len(values)} levels)" in out.detail
    assert min(np.add(mr, mc)) * len(cur) / (len(ref) + len(cur)) >= 5  # every expected count ≥ 5


def test_categories_is_scipys_chi2_of_homogeneity_with_rare_categories_pooled() -> None:
    rng = np.random.default_rng(3)
    names = np.array([f"k{i}" for i in range(12)], dtype=object)
    p = 0.6 ** np.arange(12)
    p /= p.sum()
    ref, cur = rng.choice(names, 2_000, p=p), rng.choice(names, 500, p=p)
    out = stattests.categories(ref, cur)
    keys = sorted(set(ref) | set(cur), key=lambda k: (-int((ref == k).sum() + (cur == k).sum()), k))
    mr, mc = merge_rare([int((ref == k).sum()) for k in keys], [int((cur == k).sum()) for k in keys],
                        min_pooled(2_000, 500))
    chi2 = stats.chi2_contingency(np.array([mr, mc]), correction=False)
    assert out.method == "chi2"
    assert (out.statistic, out.p_value) == (pytest.approx(chi2.statistic), pytest.approx(chi2.pvalue))


def test_unseen_categories_are_named_and_tested_not_a_crash() -> None:
    ref = np.array(["a"] * 600 + ["b"] * 400, dtype=object)
    cur = np.array(["a"] * 250 + ["b"] * 150 + ["x"] * 60 + ["y"] * 40, dtype=object)
    out = stattests.categories(ref, cur)
    assert out.detail.endswith("2 unseen categories: 'x', 'y'")
    assert out.p_value < 1e-20  # 100 of 500 rows in categories the reference never had: drift


def test_a_few_unseen_rows_are_not_drift_by_themselves() -> None:
    ref = np.array(["a"] * 5_000, dtype=object)
    cur = np.array(["a"] * 997 + ["new"] * 3, dtype=object)
    out = stattests.categories(ref, cur)  # every cell but one too sparse: Fisher's exact, top vs rest
    assert out.method == "fisher" and "1 unseen category: 'new'" in out.detail
    assert out.p_value == pytest.approx(stats.fisher_exact([[5_000, 0], [997, 3]]).pvalue)
    assert 1e-4 < out.p_value < 0.01


def test_evidently_chisquare_calls_one_unseen_row_certain_drift_ours_does_not() -> None:
    """evidently's "chisquare" is a goodness-of-fit against the reference's proportions: an expected count of
    zero makes its statistic infinite, so a single row of a new category is p = 0."""
    ref = pd.Series(["a"] * 600 + ["b"] * 400)
    cur = pd.Series(["a"] * 300 + ["b"] * 199 + ["x"])  # the same proportions, and one new row
    stattests.register()  # imports evidently quietly
    from evidently.legacy.calculations.stattests.chisquare_stattest import _chi_stat_test

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's divide by the zero expected count
        p_evidently, drifted = _chi_stat_test(ref, cur, None, 0.05)  # type: ignore[arg-type]
    assert p_evidently == 0.0 and drifted
    assert stattests.categories(ref, cur).p_value > 0.05


def test_constant_columns() -> None:
    assert stattests.levels(np.zeros(500), np.zeros(300)).p_value == 1.0
    assert "constant in both windows (0)" in stattests.levels(np.zeros(500), np.zeros(300)).detail
    assert stattests.categories(np.array(["a"] * 50, dtype=object), np.array(["a"] * 9, dtype=object)).p_value == 1.0
    assert stattests.ks(np.zeros(500), np.zeros(300)).p_value == 1.0
    moved = stattests.levels(np.zeros(500), np.r_[np.zeros(200), np.ones(100)])  # constant reference, then not
    assert moved.p_value < 1e-20


def test_ties_do_not_make_the_discrete_test_anti_conservative() -> None:
    """1,000 null draws of a zero-inflated 0..16 column at small sizes: rejections at 5 % stay near or below 5 %
    (0.06 is the nominal level plus two standard errors of the simulation)."""
    rng = np.random.default_rng(4)
    p = [stattests.levels(rng.choice(17, 150, p=PIXEL_P), rng.choice(17, 120, p=PIXEL_P)).p_value
         for _ in range(1_000)]
    assert np.mean(np.array(p) <= 0.05) <= 0.06
    assert np.mean(np.array(p) <= 0.01) <= 0.015
    # two categories, 100 rows each (Fisher or χ² on 2 cells)
    rng = np.random.default_rng(5)
    p = [stattests.categories(rng.choice(2, 100, p=[0.9, 0.1]), rng.choice(2, 100, p=[0.9, 0.1])).p_value
         for _ in range(1_000)]
    assert np.mean(np.array(p) <= 0.05) <= 0.06


def test_registered_with_evidently_under_stable_names() -> None:
    names = stattests.register()
    from evidently.legacy.calculations.stattests.registry import get_registered_stattest
    from evidently.legacy.core import ColumnType

    assert names == {"numeric": "mlops_ks", "discrete": "mlops_levels", "categorical": "mlops_chi2"}
    assert stattests.register() == names  # idempotent
    test = get_registered_stattest("mlops_chi2", ColumnType.Categorical)
    res = test(pd.Series(["a"] * 300 + ["b"] * 300), pd.Series(["a"] * 100 + ["b"] * 200), ColumnType.Categorical, 0.01)
    assert res.drift_score == pytest.approx(stattests.categories(["a"] * 300 + ["b"] * 300,
                                                                 ["a"] * 100 + ["b"] * 200).p_value)
    assert res.drifted and res.actual_threshold == 0.01
