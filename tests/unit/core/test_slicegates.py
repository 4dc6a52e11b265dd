"""Slice gates: the worst slice against a bound, the gap between slices, too few rows, bounds and confidence."""

from __future__ import annotations

import numpy as np
import pytest

from mlops.core.confidence import Bootstrap, Rows, clearance
from mlops.core.policy import Subject, Verdict
from mlops.core.slicegates import check_slice_gate, judge_slices, rule_text, worst_slice
from mlops.core.slices import Measured, measure
from mlops.core.spec.model import SliceGate
from mlops.core.spec.record import SliceMetrics

ORDER = ["small", "medium", "large"]


def scores(small: float, medium: float, large: float, rows: tuple[int, int, int] = (40, 50, 45),
           metric: str = "accuracy") -> Measured:
    return Measured({name: SliceMetrics(rows=n, metrics={metric: v}, intervals={metric: [v - 0.05, v + 0.02]})
                     for name, v, n in zip(ORDER, (small, medium, large), rows, strict=True)})


def gate(**rule: object) -> SliceGate:
    return SliceGate.model_validate({"name": "g", "metric": "accuracy", **rule})


def test_min_per_slice_judges_the_worst_slice() -> None:
    ok = check_slice_gate(gate(min_per_slice=0.85), scores(1.0, 0.9, 0.95), None, ORDER)
    assert ok.passed and ok.value == 0.9 and ok.worst_slice == "medium" and ok.min == 0.85
    assert ok.reason == "worst slice medium: accuracy 0.9000 ≥ min 0.85" and ok.rule == "every slice ≥ 0.85"
    bad = check_slice_gate(gate(min_per_slice=0.92), scores(1.0, 0.9, 0.95), None, ORDER)
    assert not bad.passed and bad.reason == "worst slice medium: accuracy 0.9000 < min 0.92"


def test_max_per_slice_and_the_gap_follow_the_metric_direction() -> None:
    losses = scores(0.1, 0.4, 0.2, metric="log_loss")
    high = check_slice_gate(gate(metric="log_loss", max_per_slice=0.3), losses, None, ORDER)
    assert not high.passed and high.worst_slice == "medium" and high.max == 0.3 and high.value == 0.4
    gap = check_slice_gate(gate(metric="log_loss", max_gap=0.35), losses, None, ORDER)
    assert gap.passed and gap.value == pytest.approx(0.3) and gap.worst_slice == "medium"  # lower is better
    assert gap.reason == "gap 0.3000 between small (0.1000) and medium (0.4000) ≤ max 0.35"
    acc = check_slice_gate(gate(max_gap=0.05), scores(1.0, 0.9, 0.95), None, ORDER)
    assert not acc.passed and acc.worst_slice == "medium" and "between small (1.0000) and medium" in acc.reason
    assert rule_text(gate(max_gap=0.05)) == "gap between slices ≤ 0.05"


def test_slices_with_too_few_rows_are_named_never_silently_judged() -> None:
    few = scores(0.5, 0.9, 0.95, rows=(12, 50, 45))
    result = check_slice_gate(gate(min_per_slice=0.85), few, None, ORDER)
    assert result.passed and result.worst_slice == "medium"
    assert result.reason.endswith("; not judged: small (12 rows < 20)")
    lower = check_slice_gate(gate(min_per_slice=0.85, min_rows=10), few, None, ORDER)
    assert not lower.passed and lower.worst_slice == "small"
    none = check_slice_gate(gate(min_per_slice=0.85, min_rows=100), few, None, ORDER)
    assert not none.passed and none.value is None
    assert none.reason.startswith("no slice can be judged (not judged: small (12 rows < 100), medium (50 rows < "
                                  "100), large (45 rows < 100)); expected at least 1 with 100+ test rows")
    one = check_slice_gate(gate(max_gap=0.1, slices=["small", "medium"]), few, None, ORDER)
    assert not one.passed and one.reason.startswith("only 1 slice can be judged (not judged: small (12 rows < 20))")


def test_missing_slices_fail_and_say_why() -> None:
    result = check_slice_gate(gate(min_per_slice=0.8), None, None, ORDER, missing="the record of v1 has none")
    assert not result.passed and result.reason.startswith("the record of v1 has none; expected accuracy per slice")
    partial = Measured({"small": SliceMetrics(rows=40, metrics={"accuracy": 0.9})})
    named = check_slice_gate(gate(min_per_slice=0.8, slices=["small", "large"]), partial, None, ORDER)
    assert named.passed and named.reason.endswith("not judged: large (not measured)")


def rows(rng: np.random.Generator, rate: float, n: int) -> Rows:
    y = rng.integers(0, 2, n)
    right = rng.random(n) < rate
    return Rows(y, np.eye(2)[np.where(right, y, 1 - y)] * 3.0)


def measured(rate_small: float, rate_large: float, seed: int = 0) -> tuple[Measured, Measured, dict[str, object]]:
    rng = np.random.default_rng(seed)
    a, b = rows(rng, rate_small, 60), rows(rng, rate_large, 60)
    y = np.concatenate([a.labels, b.labels])
    cand = Rows(y, np.concatenate([a.outputs, b.outputs]))
    flip = np.concatenate([a.outputs, b.outputs])[:, ::-1].copy()
    flip[:100] = cand.outputs[:100]  # the baseline is wrong where the candidate is right on the last 20 rows
    where = {"small": np.arange(120) < 60, "large": np.arange(120) >= 60}
    c, base = measure(["accuracy"], [cand, Rows(y, flip)], where, Bootstrap(replicates=500))
    return c, base, where


def test_intervals_of_the_worst_slice_and_the_gap_come_from_the_joint_replicates() -> None:
    cand, base, _ = measured(0.8, 0.98)
    worst = check_slice_gate(gate(min_per_slice=0.7), cand, base, ["small", "large"])
    assert worst.value_low is not None and worst.value_high is not None
    assert worst.value_low <= worst.value <= worst.value_high  # type: ignore[operator]
    assert worst.baseline is not None and worst.delta == pytest.approx(worst.value - worst.baseline)  # type: ignore[operator]
    assert worst.delta_low is not None and worst.delta_high is not None
    gap = check_slice_gate(gate(max_gap=0.5), cand, base, ["small", "large"])
    assert gap.value_low is not None and gap.value_high is not None and gap.value_low <= gap.value <= gap.value_high  # type: ignore[operator]
    slack, _ = clearance(gap)
    assert slack == pytest.approx(0.5 - gap.value_high)


def test_bound_judging_uses_the_pessimistic_end() -> None:
    cand, _, _ = measured(0.8, 0.98)
    point = check_slice_gate(gate(min_per_slice=0.75), cand, None, ["small", "large"])
    bound = check_slice_gate(gate(min_per_slice=0.75, judge="bound"), cand, None, ["small", "large"])
    assert point.judged == "point" and bound.judged == "bound"
    assert bound.value_low is not None and bound.value_low < 0.75 < point.value  # type: ignore[operator]
    assert point.passed and not bound.passed and "95 % lower bound" in bound.reason
    gap = check_slice_gate(gate(max_gap=0.25, judge="bound"), cand, None, ["small", "large"])
    assert "gap 95 % upper bound" in gap.reason
    from_record = check_slice_gate(gate(min_per_slice=0.5, judge="bound"), scores(1.0, 0.9, 0.95), None, ORDER)
    assert from_record.judged == "point" and from_record.passed and from_record.reason.endswith(
        "(judge: bound, but no 95 % interval over the slices: the point value decided)")


def test_results_travel_in_verdicts_and_name_the_worst_slice() -> None:
    results = judge_slices([gate(min_per_slice=0.85), gate(name="gap", max_gap=0.2)], scores(1.0, 0.9, 0.95),
                           None, ORDER)
    subject = Subject("v2", {"accuracy": 0.95}, slices={"small": SliceMetrics(rows=40, metrics={"accuracy": 1.0})})
    verdict = Verdict("m", "dev", subject, None, results)
    again = Verdict.from_dict(verdict.to_dict())
    assert again == verdict and again.gates[0].worst_slice == "medium" and again.candidate.slices == subject.slices
    assert "every slice ≥ 0.85" in verdict.text()


def test_worst_slice_for_display() -> None:
    s = scores(1.0, 0.9, 0.95).scores
    assert worst_slice("accuracy", s) == "medium"
    assert worst_slice("accuracy", {k: v for k, v in s.items() if k != "medium"}) == "large"
    assert worst_slice("accuracy", s, min_rows=51) is None
    assert worst_slice("log_loss", scores(0.1, 0.4, 0.2, metric="log_loss").scores) == "medium"
    assert worst_slice("macro_f1", s) is None
