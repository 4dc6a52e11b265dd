"""A tests-sized calibration simulation (benchmarks/bench_drift.py is the full one).

200 seeded runs of 64 features (32 continuous, 16 discrete with ties, 16 categorical with rare
categories) + a 10-class prediction, reference 4,000 rows and current 2,000 rows drawn independently
from one population: at most 1 % of runs may report drift. Then 200 runs each with a 0.25 σ mean shift
in one continuous and in one discrete feature: the shifted column must be flagged in at least 95 % of
runs (at the same corrected level, α / 65). Deterministic: fixed seeds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from mlops.adapters.drift.local import LocalDriftEngine
from mlops.core.drift import DEFAULT_ALPHA, Kind
from tests.unit.adapters.drift.drift_helpers import PIXEL_P

Sampler = Callable[[np.random.Generator, int], np.ndarray]
REF, CUR, RUNS, ALPHA = 4_000, 2_000, 200, DEFAULT_ALPHA
ENGINE = LocalDriftEngine()


def _levels(p: np.ndarray) -> Sampler:
    cdf = np.cumsum(p / p.sum())
    return lambda rng, n: np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(p) - 1)


def population() -> tuple[dict[str, Sampler], dict[str, Kind]]:
    s: dict[str, Sampler] = {}
    for j in range(32):
        s[f"f{j:02d}"] = [lambda rng, n, j=j: rng.normal(j, 1 + j / 8, n),
                          lambda rng, n, j=j: rng.lognormal(0, 0.3 + j / 40, n),
                          lambda rng, n, j=j: rng.standard_t(3, n) * (1 + j),
                          lambda rng, n, j=j: rng.uniform(0, 1 + j, n)][j % 4]
    for j in range(16):
        s[f"d{j:02d}"] = _levels(PIXEL_P) if j < 8 else (lambda rng, n, j=j: rng.poisson(0.2 * j, n))
    for j in range(16):
        k = (3, 10, 30)[j % 3]
        s[f"c{j:02d}"] = _levels(1 / np.arange(1, k + 1) ** (0.5 + j / 10))  # Zipf tails: rare categories
    s["pred"] = _levels(np.linspace(1.0, 1.5, 10))
    kinds: dict[str, Kind] = {n: ("numeric" if n[0] == "f" else "discrete" if n[0] == "d" else "categorical")
                              for n in s if n != "pred"}
    return s, kinds


def draw(s: dict[str, Sampler], rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame({name: f(rng, n) for name, f in s.items()})


def test_at_most_one_percent_of_runs_on_unchanged_data_raise_drift() -> None:
    s, kinds = population()
    rng = np.random.default_rng(2024)
    alarms = 0
    for _ in range(RUNS):
        res = ENGINE.compare(draw(s, rng, REF), draw(s, rng, CUR), kinds, prediction="pred", alpha=ALPHA)
        assert res.verdict != "insufficient data" and len(res.tests) == 65
        alarms += res.drifted
    assert alarms / RUNS <= 0.01, f"{alarms} of {RUNS} runs raised drift on unchanged data"


@pytest.mark.parametrize("column", ["f00", "d00"])
def test_a_quarter_sigma_shift_in_one_of_64_features_is_found_in_95_percent_of_runs(column: str) -> None:
    """Discrete values stay integers: ``+⌊δ⌋`` everywhere and one more on a random ``frac(δ)`` share of rows."""
    s, kinds = population()
    rng = np.random.default_rng(7)
    delta = 0.25 * float(np.std(s[column](np.random.default_rng(0), 200_000)))
    found = 0
    for _ in range(RUNS):
        ref, cur = s[column](rng, REF), s[column](rng, CUR).astype(float)
        cur = cur + delta if column[0] == "f" else cur + np.floor(delta) + (rng.random(CUR) < delta % 1)
        # the family has 65 tests: the shifted column is tested at α / 65 whatever the others do (Bonferroni)
        res = ENGINE.compare(pd.DataFrame({column: ref}), pd.DataFrame({column: cur}), {column: kinds[column]},
                             alpha=ALPHA / 65)
        found += res.drifted_columns == [column]
    assert found / RUNS >= 0.95, f"found in {found} of {RUNS} runs"
