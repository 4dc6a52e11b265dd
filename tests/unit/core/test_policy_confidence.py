"""Gates that judge the 95 % bound, and whether a verdict passes with confidence at a margin (auto-merge's test)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from mlops.core.confidence import Bootstrap, Interval, Rows, paired_bootstrap
from mlops.core.policy import GateResult, Subject, Verdict, check_gate, clearance, confidence, confident, judge
from mlops.core.spec.model import Gate

ACC = {"accuracy": Interval(0.93, 0.97)}
DELTA = {"accuracy": Interval(-0.012, 0.003)}
BOOT = Bootstrap(rows=300)


def gate(**kw: Any) -> Gate:
    return Gate(**{"name": "g", "metric": "accuracy", **kw})


def test_a_bound_gate_judges_the_pessimistic_end_and_a_point_gate_the_value() -> None:
    point = check_gate(gate(min=0.94), {"accuracy": 0.95}, None, intervals=ACC)
    bound = check_gate(gate(min=0.94, judge="bound"), {"accuracy": 0.95}, None, intervals=ACC)
    assert point.passed and point.judged == "point" and point.reason == "accuracy 0.9500 ≥ min 0.94"
    assert not bound.passed and bound.judged == "bound"
    assert bound.reason == "accuracy 95 % lower bound 0.9300 < min 0.94"
    assert (bound.value_low, bound.value_high) == (0.93, 0.97)
    loss = check_gate(gate(metric="log_loss", max=0.3, judge="bound"), {"log_loss": 0.25}, None,
                      intervals={"log_loss": Interval(0.2, 0.31)})
    assert not loss.passed and loss.reason == "log_loss 95 % upper bound 0.3100 > max 0.3"


def test_a_bound_regression_gate_judges_the_worse_end_of_the_paired_delta() -> None:
    kw: dict[str, Any] = dict(intervals=ACC, delta_intervals=DELTA)
    loose = check_gate(gate(max_regression=0.015, judge="bound"), {"accuracy": 0.95}, {"accuracy": 0.954}, **kw)
    tight = check_gate(gate(max_regression=0.01, judge="bound"), {"accuracy": 0.95}, {"accuracy": 0.954}, **kw)
    assert loose.passed and (loose.delta_low, loose.delta_high) == (-0.012, 0.003)
    assert not tight.passed
    assert tight.reason == "regressed up to 0.0120 at the 95 % bound vs baseline 0.9540 (> 0.01 allowed)"
    lower_is_better = check_gate(gate(metric="log_loss", max_regression=0.02, judge="bound"), {"log_loss": 0.2},
                                 {"log_loss": 0.2}, delta_intervals={"log_loss": Interval(-0.01, 0.025)})
    assert not lower_is_better.passed and "up to 0.0250" in lower_is_better.reason


def test_a_bound_gate_without_an_interval_falls_back_to_the_point_value_and_says_so() -> None:
    result = check_gate(gate(min=0.9, max_regression=0.01, judge="bound"), {"accuracy": 0.95}, {"accuracy": 0.95},
                        intervals=ACC)
    assert result.passed and result.judged == "point"
    assert result.reason.endswith("(judge: bound, but no 95 % interval of Δ accuracy: the point value decided)")
    assert clearance(result) == (None, "no 95 % interval of Δ accuracy against the baseline")


def test_clearance_is_the_smallest_slack_of_the_pessimistic_bounds() -> None:
    both = check_gate(gate(min=0.9, max_regression=0.02), {"accuracy": 0.95}, {"accuracy": 0.95}, intervals=ACC,
                      delta_intervals=DELTA)
    assert clearance(both)[0] == pytest.approx(min(0.93 - 0.9, 0.02 - 0.012))
    assert clearance(check_gate(gate(max_regression=0.0), {"accuracy": 0.9}, None, intervals=ACC))[0] == np.inf
    order = GateResult(name="promotion-order", metric="", source="environment", rule="", passed=True, reason="",
                       value=None)
    assert clearance(order) == (np.inf, "")


def verdict(gates: list[tuple[Gate, str]], baseline: Subject | None = None, margin: float = 0.0,
            bootstrap: Bootstrap | None = BOOT) -> Verdict:
    cand = Subject("20250102-aaaaaaaa", {"accuracy": 0.95}, intervals=ACC)
    deltas = DELTA if baseline is not None and baseline.source == "evaluated" else {}
    judged = judge(gates, cand.metrics, baseline.metrics if baseline else None, intervals=cand.intervals,
                   delta_intervals=deltas)
    return Verdict("digits-cnn", "staging", cand, baseline, judged, "md5", (), deltas, bootstrap, margin=margin)


BASE = Subject("20250101-bbbbbbbb", {"accuracy": 0.954}, intervals={"accuracy": Interval(0.935, 0.972)})
GATES = [(gate(name="min-accuracy", min=0.9), "model"), (gate(name="regression", max_regression=0.02), "environment")]


def test_confident_when_every_bound_clears_by_the_margin() -> None:
    v = verdict(GATES, BASE)
    assert confident(v, 0.0) and confident(v, 0.008) and v.confidence(0.008).reasons == ()
    sure = confidence(v, 0.01)
    assert not sure.confident and sure.reasons == (
        "regression: the 95 % bound clears the rule by 0.0080, less than the margin 0.01",)
    assert sure.text().startswith("confident at margin 0.01: no (regression: the 95 % bound clears")
    assert confident(verdict(GATES, BASE, margin=0.005)) and not confident(verdict(GATES, BASE, margin=0.05))
    with pytest.raises(ValueError, match="margin"):
        confidence(v, -0.1)


def test_no_confidence_without_intervals_a_failed_gate_or_an_evaluated_baseline() -> None:
    none = confidence(verdict(GATES, BASE, bootstrap=None))
    assert not none.confident and none.reasons == ("no 95 % intervals: the verdict has none",)
    record = confidence(verdict(GATES, Subject("20250101-bbbbbbbb", {"accuracy": 0.954}, "record")))
    assert not record.confident and record.reasons == (
        "baseline 20250101-bbbbbbbb is judged from its record, not on the same test rows: no paired Δ interval",
        "regression: no 95 % interval of Δ accuracy against the baseline")
    failing = confidence(verdict([(gate(name="min", min=0.96), "model")]))
    assert failing.reasons == ("min failed",)
    assert confident(verdict([])) and not confident(verdict([], bootstrap=None))


def test_one_flipped_row_flips_a_point_gate_but_not_a_bound_gate_with_margin() -> None:
    """Two near-identical models on 300 real rows (they disagree on 6, 3 each way); the candidate gets one more
    row right, or one more wrong. A point `max_regression: 0` flips; a bound gate with room does not."""
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, size=300)
    base_right = rng.random(300) < 0.9
    base_right[:3], base_right[3:6] = False, True
    gates = [(gate(name="no-regression", max_regression=0.0), "environment"),
             (gate(name="bounded", max_regression=0.03, judge="bound"), "environment")]
    outcomes = []
    for better in (True, False):
        cand_right = base_right.copy()
        cand_right[:3], cand_right[3:6] = True, False
        row = 6 + int(np.argmax(base_right[6:] != better))  # both wrong (to fix) or both right (to break)
        cand_right[row] = better
        base_out, cand_out = (np.eye(2)[np.where(right, y, 1 - y)] for right in (base_right, cand_right))
        found = paired_bootstrap(["accuracy"], Rows(y, cand_out), Rows(y, base_out))
        cand = Subject("c", {"accuracy": float(cand_right.mean())}, intervals=found.candidate)
        base = Subject("b", {"accuracy": float(base_right.mean())}, intervals=found.baseline)
        results = judge(gates, cand.metrics, base.metrics, intervals=found.candidate, delta_intervals=found.delta)
        v = Verdict("m", "staging", cand, base, results[1:], delta_intervals=found.delta, bootstrap=found.bootstrap)
        outcomes.append((results[0].passed, results[1].passed, confident(v, 0.005)))
    assert outcomes == [(True, True, True), (False, True, True)]


def test_verdict_json_keeps_intervals_and_reads_files_written_before_them() -> None:
    v = verdict(GATES, BASE, margin=0.005)
    data = json.loads(json.dumps(v.to_dict()))
    assert data["candidate"]["intervals"] == {"accuracy": [0.93, 0.97]}
    assert data["delta_intervals"] == {"accuracy": [-0.012, 0.003]} and data["margin"] == 0.005
    assert data["bootstrap"]["replicates"] == 1000 and data["bootstrap"]["rows"] == 300
    assert data["gates"][1]["delta_low"] == -0.012 and data["gates"][1]["judged"] == "point"
    assert data["confidence"] == {"margin": 0.005, "confident": True, "reasons": []}
    assert Verdict.from_dict(data) == v
    old = {k: v for k, v in data.items() if k not in ("delta_intervals", "bootstrap", "no_interval", "margin",
                                                      "confidence")}
    old["candidate"] = {k: v for k, v in data["candidate"].items() if k != "intervals"}
    old["gates"] = [{k: v for k, v in g.items() if k not in ("judged", "value_low", "value_high", "delta_low",
                                                              "delta_high")} for g in data["gates"]]
    read = Verdict.from_dict(old)
    assert read.passed and read.candidate.intervals == {} and read.bootstrap is None
    assert read.gates[0].value_low is None and not confident(read)
    assert "confident at margin 0: no (no 95 % intervals" in read.text()


def test_verdict_text_shows_intervals_and_confidence() -> None:
    lines = verdict(GATES, BASE).text().splitlines()
    assert "0.9500 [0.9300, 0.9700]" in lines[2] and "-0.0040 [-0.0120, +0.0030]" in lines[3]
    assert lines[-1] == "  confident at margin 0: yes"
