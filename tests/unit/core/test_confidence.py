"""The paired bootstrap: same resamples for both versions, seeded, metrics reused from mlops.core.metrics,
covering at its nominal level, narrower for Δ than an unpaired bootstrap, and clear about what it cannot do."""

from __future__ import annotations

import numpy as np
import pytest

from mlops.core import metrics
from mlops.core.confidence import (
    Bootstrap,
    Interval,
    Rows,
    paired_bootstrap,
    percentile_interval,
    replicates,
    resample_weights,
)

CLASSIFICATION = ["accuracy", "log_loss", "macro_f1"]


def classifier(y: np.ndarray, skill: float, seed: int, classes: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(len(y), classes)) + np.eye(classes)[y] * skill


@pytest.fixture
def split() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 4, size=300)


@pytest.mark.parametrize("name", ["accuracy", "macro_f1", "log_loss", "rmse", "mae", "r2"])
def test_a_weighting_is_the_metric_of_the_resampled_rows(name: str) -> None:
    """One implementation: the weighted form of every metric equals the metric recomputed on the drawn rows."""
    rng = np.random.default_rng(7)
    if name in CLASSIFICATION:
        y = rng.integers(0, 3, size=40)
        out = rng.normal(size=(40, 3)) + np.eye(3)[y]
    else:
        y = rng.normal(size=40)
        out = (y + rng.normal(scale=0.5, size=40)).reshape(-1, 1)
    idx = rng.integers(0, 40, size=(5, 40))
    weights = np.stack([np.bincount(row, minlength=40) for row in idx])
    got = metrics.weighted(name, y, out, weights)
    assert got == pytest.approx([metrics.METRICS[name](y[row], out[row]) for row in idx], rel=1e-9, abs=1e-12)


def test_resample_weights_draw_n_rows_per_replicate() -> None:
    w = resample_weights(50, 200, np.random.default_rng(1))
    assert w.shape == (200, 50) and np.all(w.sum(axis=1) == 50) and np.all(w >= 0)
    assert w.mean() == pytest.approx(1.0)


def test_the_same_seed_gives_the_same_intervals_and_another_seed_others(split: np.ndarray) -> None:
    cand, base = Rows(split, classifier(split, 2.0, 1)), Rows(split, classifier(split, 2.0, 2))
    first = paired_bootstrap(CLASSIFICATION, cand, base, Bootstrap(seed=3))
    assert paired_bootstrap(CLASSIFICATION, cand, base, Bootstrap(seed=3)) == first
    other = paired_bootstrap(CLASSIFICATION, cand, base, Bootstrap(seed=4))
    assert other.candidate != first.candidate
    assert first.bootstrap == Bootstrap(seed=3, rows=300) and set(first.delta) == set(CLASSIFICATION)
    for m in CLASSIFICATION:
        point = metrics.METRICS[m](split, cand.outputs)
        assert first.candidate[m].low <= point <= first.candidate[m].high


def test_chunking_does_not_change_the_replicates(split: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [Rows(split, classifier(split, 1.5, 5))]
    whole = replicates(["accuracy"], rows, Bootstrap(replicates=100))
    monkeypatch.setattr("mlops.core.confidence.CHUNK_CELLS", 300 * 7)  # 7 replicates per chunk
    assert np.array_equal(replicates(["accuracy"], rows, Bootstrap(replicates=100))[0]["accuracy"],
                          whole[0]["accuracy"])


def test_the_95_percent_interval_covers_the_truth_about_95_percent_of_the_time() -> None:
    """200 seeded trials: a classifier right with probability 0.8 on 300 fresh rows each time."""
    truth, n, trials, covered = 0.8, 300, 200, 0
    rng = np.random.default_rng(2024)
    for trial in range(trials):
        right = rng.random(n) < truth
        y = np.zeros(n, dtype=np.int64)
        logits = np.where(right[:, None], [[1.0, 0.0]], [[0.0, 1.0]])
        found = paired_bootstrap(["accuracy"], Rows(y, logits), config=Bootstrap(replicates=500, seed=trial))
        iv = found.candidate["accuracy"]
        covered += iv.low <= truth <= iv.high
    assert 0.91 <= covered / trials <= 0.99


def test_the_paired_delta_interval_is_narrower_than_an_unpaired_one(split: np.ndarray) -> None:
    """Two models that agree on all but 12 of 300 rows: pairing cancels the rows they share."""
    base_out = classifier(split, 1.0, 11)
    cand_out = base_out.copy()
    flip = np.random.default_rng(12).choice(len(split), 12, replace=False)
    cand_out[flip] = np.eye(4)[split[flip]] * 10.0  # right on rows the baseline may have got wrong
    paired = paired_bootstrap(["accuracy"], Rows(split, cand_out), Rows(split, base_out)).delta["accuracy"]
    a = replicates(["accuracy"], [Rows(split, cand_out)], Bootstrap(seed=1))[0]["accuracy"]
    b = replicates(["accuracy"], [Rows(split, base_out)], Bootstrap(seed=2))[0]["accuracy"]
    unpaired = percentile_interval(a - b)
    assert unpaired is not None
    assert paired.high - paired.low < 0.5 * (unpaired.high - unpaired.low)
    assert paired.low >= 0.0  # the candidate is never worse on a resample: it only fixed rows


def test_a_version_against_itself_has_a_zero_delta(split: np.ndarray) -> None:
    rows = Rows(split, classifier(split, 2.0, 1))
    assert paired_bootstrap(CLASSIFICATION, rows, rows).delta == {m: Interval(0.0, 0.0) for m in CLASSIFICATION}


def test_an_empty_split_has_no_interval_and_says_why() -> None:
    found = paired_bootstrap(["accuracy"], Rows(np.zeros(0), np.zeros((0, 2))))
    assert found.bootstrap is None and found.candidate == {} and "test split is empty" in found.reason


def test_a_constant_metric_has_a_point_interval() -> None:
    y = np.arange(20) % 2
    perfect = np.eye(2)[y] * 5.0
    found = paired_bootstrap(["accuracy", "macro_f1"], Rows(y, perfect))
    assert found.candidate == {"accuracy": Interval(1.0, 1.0), "macro_f1": Interval(1.0, 1.0)}


def test_nan_outputs_leave_that_metric_without_an_interval(split: np.ndarray) -> None:
    out = classifier(split, 2.0, 1)
    out[5, 0] = np.nan
    base = Rows(split, classifier(split, 2.0, 2))
    found = paired_bootstrap(["accuracy", "log_loss"], Rows(split, out), base)
    assert set(found.candidate) == {"accuracy"} and set(found.delta) == {"accuracy"}
    assert "not finite" in found.missing["log_loss"]
    flipped = paired_bootstrap(["log_loss"], base, Rows(split, out))
    assert set(flipped.candidate) == {"log_loss"} and "the baseline's log_loss" in flipped.missing["log_loss"]


def test_a_baseline_scored_on_other_rows_gets_no_delta(split: np.ndarray) -> None:
    other = np.roll(split, 1)
    found = paired_bootstrap(["accuracy"], Rows(split, classifier(split, 2, 1)), Rows(other, classifier(other, 2, 2)))
    assert found.delta == {} and found.baseline == {} and "other rows" in found.reason
    assert set(found.candidate) == {"accuracy"}


def test_regression_metrics_get_intervals_too() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(size=200)
    found = paired_bootstrap(["rmse", "mae", "r2"], Rows(y, (y + rng.normal(scale=0.3, size=200))[:, None]))
    assert 0.2 < found.candidate["rmse"].low < 0.3 < found.candidate["rmse"].high < 0.4
    assert found.candidate["r2"].high <= 1.0


def test_mismatched_outputs_and_bad_settings_are_refused(split: np.ndarray) -> None:
    with pytest.raises(ValueError, match="output rows"):
        paired_bootstrap(["accuracy"], Rows(split, np.zeros((3, 4))))
    with pytest.raises(ValueError, match="replicates"):
        Bootstrap(replicates=1)
    with pytest.raises(ValueError, match="level"):
        Bootstrap(level=1.5)


def test_bootstrap_settings_round_trip() -> None:
    config = Bootstrap(replicates=200, seed=9, level=0.9, rows=12)
    assert Bootstrap.from_dict(config.to_dict()) == config
    assert Interval.from_list(Interval(0.1, 0.2).to_list()) == Interval(0.1, 0.2)
    assert percentile_interval([]) is None and percentile_interval([1.0, np.inf]) is None
