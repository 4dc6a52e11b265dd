"""The two-sample tests behind each column kind, and their registration as evidently stat tests.

evidently's own choices are wrong for some kinds, so the engine hands evidently these instead, through
evidently's extension point (``register_stattest``), and evidently runs them inside ``ValueDrift``:

- ``numeric``: Kolmogorov–Smirnov (scipy; exact for small samples, asymptotic beyond ``EXACT_KS``).
  evidently's default for more than 1,000 reference rows is a Wasserstein distance against a fixed 0.1,
  not a test, so its false-alarm rate is unknown.
- ``discrete`` (integer levels, many ties): KS is valid but conservative under ties and blind to mass
  moving between levels (zero-inflated pixels getting brighter); a χ² on the levels catches that but is
  weak for shifts across many levels. The column's p-value is ``2 · min(p_KS, p_χ²)`` (Bonferroni over
  the two), valid whatever the dependence between them and close to the better of the two in power.
- ``categorical``: Pearson's χ² test of homogeneity on the 2 × k table. evidently's ``chisquare`` is a
  goodness-of-fit test that takes the reference proportions as exact (anti-conservative: it ignores
  the reference's own sampling noise) and fails on a category the reference lacks.

χ² cells whose expected count would fall below 5 are merged (adjacent levels, or rare categories into
"other") from the pooled counts alone; when merging leaves one cell, Fisher's exact test of the most
common value against the rest decides (it needs no expected counts).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mlops.core.drift import Kind, merge_adjacent, merge_rare, min_pooled

EXACT_KS = 1_000_000  # n·m up to which scipy's exact KS distribution is used (fast there, asymptotics weakest)
SHOWN = 3  # unseen categories named in a detail


@dataclass(frozen=True)
class Outcome:
    """One column's test: which test ran, its statistic and p-value, and a short sentence for people."""

    method: str
    statistic: float
    p_value: float
    detail: str


def _fmt(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def ks(reference: Any, current: Any) -> Outcome:
    """Two-sample Kolmogorov–Smirnov test on finite numbers (NaN already dropped by the caller).

    Small samples: scipy's ``ks_2samp`` with its exact distribution. Larger ones: the same statistic and
    the same p-value as ``ks_2samp(method="asymp")`` (``kstwo.sf(D, round(n·m/(n+m)))``), computed here
    without scipy's per-call wrapping, which costs more than the test at monitoring sizes.
    """
    ref, cur = np.sort(np.asarray(reference, dtype=float)), np.sort(np.asarray(current, dtype=float))
    n, m = len(ref), len(cur)
    if n * m <= EXACT_KS:
        with warnings.catch_warnings():  # scipy falls back to asymp itself when exact fails; that is fine
            warnings.filterwarnings("ignore", message="ks_2samp: Exact calculation unsuccessful",
                                    category=RuntimeWarning)
            res = stats.ks_2samp(ref, cur, method="exact")
        d, p = float(res.statistic), float(res.pvalue)
    else:
        both = np.concatenate([ref, cur])
        d = float(np.max(np.abs(np.searchsorted(ref, both, side="right") / n
                                - np.searchsorted(cur, both, side="right") / m)))
        p = float(np.clip(stats.kstwo.sf(d, np.round(n * m / (n + m))), 0.0, 1.0))
    return Outcome("ks", d, p, f"KS D={d:.4f}")


def _table_test(ref: np.ndarray, cur: np.ndarray, cells: int, label: str) -> tuple[str, float, float, str]:
    """Pearson's χ² of homogeneity on a merged 2 × k table (k ≥ 2, every pooled cell non-empty)."""
    total = ref + cur
    n, m = ref.sum(), cur.sum()
    exp_r, exp_c = total * n / (n + m), total * m / (n + m)
    stat = float(((ref - exp_r) ** 2 / exp_r).sum() + ((cur - exp_c) ** 2 / exp_c).sum())
    p = float(stats.chi2.sf(stat, len(ref) - 1))
    return "chi2", stat, p, f"χ²={stat:.1f} on {len(ref)} cells ({cells} {label})"


def _fisher(ref_top: int, ref_rest: int, cur_top: int, cur_rest: int, cells: int, label: str
            ) -> tuple[str, float, float, str]:
    table = np.array([[ref_top, ref_rest], [cur_top, cur_rest]])
    p = float(stats.fisher_exact(table).pvalue)
    diff = cur_top / max(1, cur_top + cur_rest) - ref_top / max(1, ref_top + ref_rest)
    return "fisher", float(diff), p, f"{cells} {label} too sparse for χ²: Fisher's exact, most common vs rest"


def _counts(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values = np.union1d(ref, cur)
    r = np.bincount(np.searchsorted(values, ref), minlength=len(values))
    c = np.bincount(np.searchsorted(values, cur), minlength=len(values))
    return values, r, c


def levels(reference: Any, current: Any) -> Outcome:
    """Discrete numbers with ties: ``2 · min(p_KS, p_χ²)`` with χ² on adjacent levels merged to ≥ 5 expected."""
    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    values, r, c = _counts(ref, cur)
    if len(values) == 1:
        return Outcome("ks+chi2", 0.0, 1.0, f"constant in both windows ({values[0]:g})")
    mr, mc = merge_adjacent(r.tolist(), c.tolist(), min_pooled(len(ref), len(cur)))
    if len(mr) >= 2:
        name, stat, p_tab, text = _table_test(np.array(mr, float), np.array(mc, float), len(values), "levels")
    else:
        top = int(np.argmax(r + c))
        name, stat, p_tab, text = _fisher(int(r[top]), len(ref) - int(r[top]), int(c[top]), len(cur) - int(c[top]),
                                          len(values), "levels")
    k = ks(ref, cur)
    p = min(1.0, 2 * min(k.p_value, p_tab))
    stat_used = k.statistic if k.p_value <= p_tab else stat
    detail = f"{text}: p={p_tab:.3g}; {k.detail}: p={k.p_value:.3g}; p = 2 × the smaller"
    return Outcome(f"ks+{name}", stat_used, p, detail)


def categories(reference: Any, current: Any) -> Outcome:
    """Categories: χ² of homogeneity with rare categories pooled into "other" (Fisher when one cell is left)."""
    # v > 0: a pandas Categorical also counts the categories its dtype declares but no row has
    r_counts = {k: int(v) for k, v in pd.Series(reference).value_counts(dropna=True).items() if v > 0}
    c_counts = {k: int(v) for k, v in pd.Series(current).value_counts(dropna=True).items() if v > 0}
    keys = sorted(r_counts.keys() | c_counts.keys(), key=lambda k: (-r_counts.get(k, 0) - c_counts.get(k, 0), str(k)))
    r = [r_counts.get(k, 0) for k in keys]
    c = [c_counts.get(k, 0) for k in keys]
    unseen = [k for k in keys if k not in r_counts]
    note = ""
    if unseen:
        names = ", ".join(_fmt(k) for k in unseen[:SHOWN]) + (", …" if len(unseen) > SHOWN else "")
        note = f"; {len(unseen)} unseen {'category' if len(unseen) == 1 else 'categories'}: {names}"
    if len(keys) == 1:
        return Outcome("chi2", 0.0, 1.0, f"constant in both windows ({_fmt(keys[0])})")
    n, m = sum(r), sum(c)
    mr, mc = merge_rare(r, c, min_pooled(n, m))
    if len(mr) >= 2:
        name, stat, p, text = _table_test(np.array(mr, float), np.array(mc, float), len(keys), "categories")
    else:
        name, stat, p, text = _fisher(r[0], n - r[0], c[0], m - c[0], len(keys), "categories")
    return Outcome(name, stat, p, text + note)


TESTS: dict[Kind, Callable[[Any, Any], Outcome]] = {"numeric": ks, "discrete": levels, "categorical": categories}
EVIDENTLY_NAMES: dict[Kind, str] = {"numeric": "mlops_ks", "discrete": "mlops_levels", "categorical": "mlops_chi2"}
_registered = False


@contextmanager
def quiet() -> Iterator[None]:
    """evidently's own deprecation chatter, silenced here only (the tests run with warnings as errors).

    At import, evidently touches ``numpy.core`` and its UI server's ``litestar`` warns about its own
    deprecations; neither concerns the numbers computed.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(evidently|litestar)(\..*)?$")
        yield


def register() -> dict[Kind, str]:
    """Register the three tests with evidently (idempotent) and return their names, by kind, for ``ValueDrift``.

    evidently calls a test with the column's non-missing values and the threshold; it reports the
    returned p-value as the drift score and "drift" when ``p ≤ threshold``.
    """
    global _registered
    if _registered:
        return dict(EVIDENTLY_NAMES)
    with quiet():
        from evidently.legacy.calculations.stattests.registry import StatTest, register_stattest
        from evidently.legacy.core import ColumnType

    for kind, name in EVIDENTLY_NAMES.items():
        column_type = ColumnType.Categorical if kind == "categorical" else ColumnType.Numerical
        stat_test = StatTest(name=name, display_name=f"{name} p_value", allowed_feature_types=[column_type],
                             default_threshold=0.01)
        register_stattest(stat_test, default_impl=_for_evidently(TESTS[kind]))
    _registered = True
    return dict(EVIDENTLY_NAMES)


def _for_evidently(test: Callable[[Any, Any], Outcome]) -> Callable[[Any, Any, Any, float], tuple[float, bool]]:
    def run(reference: Any, current: Any, feature_type: Any, threshold: float) -> tuple[float, bool]:
        p = test(reference, current).p_value
        return p, p <= threshold

    run.__name__ = f"mlops_{test.__name__}"
    return run
