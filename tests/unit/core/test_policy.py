"""Gates and verdicts: absolute bounds, regression against the pinned baseline, direction, JSON round trip."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mlops.core.policy import Subject, Verdict, check_gate, gates_for, judge
from mlops.core.repo import load_repository
from mlops.core.spec.model import Gate


def gate(**kw: object) -> Gate:
    return Gate.model_validate({"name": "g", "metric": "accuracy", **kw})


def test_min_passes_and_fails_with_the_reason() -> None:
    ok = check_gate(gate(min=0.9), {"accuracy": 0.95}, None)
    bad = check_gate(gate(min=0.99), {"accuracy": 0.95}, None)
    assert ok.passed and ok.reason == "accuracy 0.9500 ≥ min 0.9"
    assert not bad.passed and bad.reason == "accuracy 0.9500 < min 0.99" and bad.rule == "≥ 0.99"


def test_max_on_a_lower_is_better_metric() -> None:
    assert check_gate(gate(metric="log_loss", max=0.3), {"log_loss": 0.25}, None).passed
    bad = check_gate(gate(metric="log_loss", max=0.3), {"log_loss": 0.31}, None)
    assert not bad.passed and bad.reason == "log_loss 0.3100 > max 0.3"


def test_bounds_are_inclusive_and_forgive_float_noise() -> None:
    assert check_gate(gate(min=0.9), {"accuracy": 0.9 - 1e-12}, None).passed
    assert check_gate(gate(metric="rmse", max=1.0), {"rmse": 1.0}, None).passed


def test_regression_without_baseline_passes_with_reason() -> None:
    result = check_gate(gate(max_regression=0.0), {"accuracy": 0.5}, None)
    assert result.passed and result.reason == "no baseline" and result.baseline is None and result.delta is None


def test_regression_of_a_higher_is_better_metric() -> None:
    within = check_gate(gate(max_regression=0.01), {"accuracy": 0.955}, {"accuracy": 0.96})
    beyond = check_gate(gate(max_regression=0.01), {"accuracy": 0.94}, {"accuracy": 0.96})
    better = check_gate(gate(max_regression=0.0), {"accuracy": 0.97}, {"accuracy": 0.96})
    assert within.passed and within.delta == pytest.approx(-0.005)
    assert not beyond.passed and beyond.reason == "regressed 0.0200 vs baseline 0.9600 (> 0.01 allowed)"
    assert better.passed and better.reason == "no regression vs baseline 0.9600 (≤ 0 allowed)"


def test_regression_of_a_lower_is_better_metric_is_a_rise() -> None:
    rise = check_gate(gate(metric="log_loss", max_regression=0.05), {"log_loss": 0.4}, {"log_loss": 0.3})
    fall = check_gate(gate(metric="log_loss", max_regression=0.0), {"log_loss": 0.2}, {"log_loss": 0.3})
    assert not rise.passed and "regressed 0.1000" in rise.reason and rise.delta == pytest.approx(0.1)
    assert fall.passed and "no regression" in fall.reason


def test_zero_allowed_regression_accepts_an_identical_metric() -> None:
    assert check_gate(gate(max_regression=0.0), {"accuracy": 0.1 + 0.2}, {"accuracy": 0.3}).passed


def test_combined_rules_name_every_failure() -> None:
    result = check_gate(gate(min=0.99, max_regression=0.0), {"accuracy": 0.9}, {"accuracy": 0.95})
    assert not result.passed
    assert result.reason == "accuracy 0.9000 < min 0.99; regressed 0.0500 vs baseline 0.9500 (> 0 allowed)"


def test_missing_and_non_finite_metrics_fail() -> None:
    missing = check_gate(gate(min=0.5), {"macro_f1": 0.9}, None)
    nan = check_gate(gate(min=0.5), {"accuracy": math.nan}, None)
    assert not missing.passed and missing.reason == "accuracy was not computed for the candidate"
    assert not nan.passed and nan.reason == "accuracy is nan"


def test_a_baseline_without_the_metric_does_not_block() -> None:
    result = check_gate(gate(max_regression=0.0), {"accuracy": 0.9}, {"log_loss": 0.2})
    assert result.passed and result.reason == "the baseline has no accuracy"


def test_gates_applied_are_the_models_then_the_environments(example_repo: Path) -> None:
    repo = load_repository(example_repo)
    applied = gates_for(repo.model("digits-cnn"), repo.environment("prod"))
    assert [(g.name, s) for g, s in applied] == [("min-accuracy", "model"), ("accuracy-regression", "model"),
                                                 ("no-accuracy-regression", "environment"),
                                                 ("prod-min-accuracy", "environment")]
    assert [s for _, s in gates_for(repo.model("digits-cnn"), None)] == ["model", "model"]


def verdict(baseline: Subject | None = None, metrics: dict[str, float] | None = None) -> Verdict:
    gates = [(gate(name="min-accuracy", min=0.9), "model"),
             (Gate(name="no-regression", metric="accuracy", max_regression=0.0), "environment")]
    cand = Subject("20250101-aaaaaaaa", metrics or {"accuracy": 0.95, "log_loss": 0.2},
                   record_metrics={"accuracy": 0.95})
    return Verdict("digits-cnn", "prod", cand, baseline,
                   judge(gates, cand.metrics, baseline.metrics if baseline else None), "md5:abc", ("a note",))


def test_verdict_passes_only_when_every_gate_passes() -> None:
    assert verdict().passed
    failing = verdict(Subject("20241201-bbbbbbbb", {"accuracy": 0.96}, "record"))
    assert not failing.passed and [g.name for g in failing.failed] == ["no-regression"]


def test_verdict_json_round_trip() -> None:
    original = verdict(Subject("20241201-bbbbbbbb", {"accuracy": 0.96}, "record"))
    data = json.loads(json.dumps(original.to_dict()))
    assert data["passed"] is False and data["kind"] == "Verdict" and data["baseline"]["source"] == "record"
    assert data["gates"][1]["delta"] == pytest.approx(-0.01)
    assert Verdict.from_dict(data) == original
    with pytest.raises(ValueError, match="not a verdict"):
        Verdict.from_dict({"kind": "Other"})


def test_verdict_text_is_a_table_with_reasons() -> None:
    text = verdict(Subject("20241201-bbbbbbbb", {"accuracy": 0.96}, "evaluated")).text()
    lines = text.splitlines()
    assert lines[0] == ("digits-cnn 20250101-aaaaaaaa against prod (baseline 20241201-bbbbbbbb (evaluated now)): "
                        "FAIL")
    assert lines[1].split() == ["gate", "metric", "rule", "value", "baseline", "delta", "verdict", "reason"]
    assert "FAIL" in lines[3] and "regressed 0.0100 vs baseline 0.9600" in lines[3] and "-0.0100" in lines[3]
    assert lines[-1] == "  note: a note"
    assert "no baseline pinned" in verdict().text().splitlines()[0]
