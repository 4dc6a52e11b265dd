"""Slices of the test split: row masks, per-slice metrics with paired, stratified bootstrap intervals, records."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from mlops.core.confidence import Bootstrap, Rows
from mlops.core.metrics import compute
from mlops.core.slices import masks, measure, recorded
from mlops.core.spec.model import Slice
from mlops.core.spec.record import VersionRecord
from mlops.train.record import finalize
from tests.helpers.records import record_body

RNG = np.random.default_rng(3)
N = 300
X = np.stack([RNG.uniform(5, 25, N), RNG.integers(0, 3, N).astype(float)], axis=1)
Y = RNG.integers(0, 2, N)
FEATURES = ["radius", "grade"]


def logits(right: np.ndarray) -> np.ndarray:
    return np.eye(2)[np.where(right, Y, 1 - Y)] * 3.0


def slices() -> list[Slice]:
    return [Slice(name="small", column="radius", range=[0, 12]), Slice(name="large", column="radius",
                                                                       range=[12, float("inf")]),
            Slice(name="graded", column="grade", values=[1, 2]),
            Slice(name="big-low", where="radius >= 20 and grade == 0"),
            Slice(name="none", column="radius", range=[100, 200])]


def test_masks_follow_each_kind_of_slice() -> None:
    found = masks(slices(), FEATURES, X)
    assert list(found) == ["small", "large", "graded", "big-low", "none"]
    assert (found["small"] == (X[:, 0] < 12)).all() and (found["large"] == (X[:, 0] >= 12)).all()
    assert (found["graded"] == (X[:, 1] > 0)).all()
    assert (found["big-low"] == ((X[:, 0] >= 20) & (X[:, 1] == 0))).all()
    assert not found["none"].any()


def test_each_slice_is_measured_on_its_rows_with_an_interval_around_the_point() -> None:
    right = RNG.random(N) < np.where(X[:, 0] < 12, 0.7, 0.95)  # worse on small tumours
    where = masks(slices(), FEATURES, X)
    (one,) = measure(["accuracy", "log_loss"], [Rows(Y, logits(right))], where, Bootstrap(replicates=400))
    small = one.scores["small"]
    assert small.rows == int(where["small"].sum())
    assert small.metrics == compute(["accuracy", "log_loss"], Y[where["small"]], logits(right)[where["small"]])
    for name in ("small", "large", "graded", "big-low"):
        score = one.scores[name]
        for metric, (low, high) in score.intervals.items():
            assert low - 1e-12 <= score.metrics[metric] <= high + 1e-12
        assert one.replicates[name]["accuracy"].shape == (400,)
    assert one.scores["small"].metrics["accuracy"] < one.scores["large"].metrics["accuracy"]
    assert one.scores["none"].rows == 0 and one.scores["none"].metrics == {} and "none" not in one.replicates


def test_versions_are_paired_and_reproducible() -> None:
    right = RNG.random(N) < 0.9
    where = masks(slices(), FEATURES, X)
    a, b = measure(["accuracy"], [Rows(Y, logits(right)), Rows(Y, logits(right))], where)
    for name in a.replicates:  # the same model twice: identical replicates (same resamples)
        assert np.array_equal(a.replicates[name]["accuracy"], b.replicates[name]["accuracy"])
    again = measure(["accuracy"], [Rows(Y, logits(right))], where)[0]
    assert again.scores == a.scores
    other = measure(["accuracy"], [Rows(Y, logits(right))], where, Bootstrap(seed=5))[0]
    assert not np.array_equal(other.replicates["small"]["accuracy"], a.replicates["small"]["accuracy"])
    # slices are resampled from different streams: two slices with the same rows do not get the same draws
    twin = measure(["accuracy"], [Rows(Y, logits(right))], {"x": where["small"], "y": where["small"]})[0]
    assert not np.array_equal(twin.replicates["x"]["accuracy"], twin.replicates["y"]["accuracy"])


def test_records_carry_slices_and_old_records_are_unchanged() -> None:
    right = RNG.random(N) < 0.9
    (one,) = measure(["accuracy"], [Rows(Y, logits(right))], masks(slices(), FEATURES, X), Bootstrap(replicates=50))
    body = record_body()
    body.pop("record_digest")
    old, old_text = finalize(body)
    assert old.slices == {} and "slices" not in yaml.safe_load(old_text)  # a model without slices: as before
    new, text = finalize({**body, "slices": recorded(one)})
    assert new.slices["small"].rows == one.scores["small"].rows
    assert VersionRecord.model_validate(yaml.safe_load(text)).slices == new.slices
    assert new.record_digest != old.record_digest


@pytest.mark.parametrize("bad", [{"rows": -1}, {"rows": 3, "metrics": {"accuracy": "high"}}])
def test_record_slices_are_validated(bad: dict[str, object]) -> None:
    body = record_body()
    body.pop("record_digest")
    with pytest.raises(ValueError):
        finalize({**body, "slices": {"small": bad}})


def test_bounds_and_values_compare_at_the_models_input_precision() -> None:
    x = np.array([[0.1], [12.1], [12.099999], [3.0]], dtype=np.float32)  # as the table reads the CSV
    found = masks([Slice(name="lo", column="v", range=[0, 12.1]), Slice(name="hi", column="v", range=[12.1, 20]),
                   Slice(name="tenth", column="v", values=[0.1, 3])], ["v"], x)
    assert found["lo"].tolist() == [True, False, True, True] and found["hi"].tolist() == [False, True, False, False]
    assert found["tenth"].tolist() == [True, False, False, True]
