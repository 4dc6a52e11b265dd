"""The report's intervals and confidence lines: compact intervals next to metrics and Δ, bound gates marked, one
confidence line per environment (auto-merge eligible only when the policy allows it and the verdict is confident),
and verdicts written before intervals existed still render."""

from __future__ import annotations

from pathlib import Path

from mlops.core.confidence import Bootstrap, Interval
from mlops.core.policy import Subject, Verdict, judge
from mlops.core.repo import load_repository
from mlops.core.spec.model import Gate
from mlops.report.collect import EnvRow, ModelReport, ReportData, collect
from mlops.report.markdown import confidence_section, interval, render, verdict_markdown

V1, V2 = "20250101-bbbbbbbb", "20250102-aaaaaaaa"
GATES = [(Gate(name="min-accuracy", metric="accuracy", min=0.9), "model"),
         (Gate(name="no-regression", metric="accuracy", max_regression=0.01, judge="bound"), "environment")]


def verdict(env: str, margin: float = 0.0, intervals: bool = True) -> Verdict:
    cand = Subject(V2, {"accuracy": 0.951}, intervals={"accuracy": Interval(0.93, 0.97)} if intervals else {})
    base = Subject(V1, {"accuracy": 0.955}, intervals={"accuracy": Interval(0.935, 0.973)} if intervals else {})
    deltas = {"accuracy": Interval(-0.012, 0.003)} if intervals else {}
    gates = judge(GATES, cand.metrics, base.metrics, intervals=cand.intervals, delta_intervals=deltas)
    return Verdict("digits-cnn", env, cand, base, gates, "md5", (), deltas,
                   Bootstrap(rows=359) if intervals else None, margin=margin)


def report(rows: list[EnvRow]) -> ModelReport:
    return ModelReport("digits-cnn", V2, None, rows)


def test_intervals_sit_next_to_metrics_and_deltas() -> None:
    text = render(ReportData([report([EnvRow("staging", None, verdict("staging"), True)])]))
    assert ("| accuracy ↑ | 0.9510 \\[0.930, 0.970\\] | 0.9550 \\[0.935, 0.973\\] | -0.0040 \\[-0.012, +0.003\\] |"
            in text)
    assert "| staging | `no-regression` (env policy) | regression ≤ 0.01 · on the 95 % bound | 0.9510 | ❌ " in text
    assert interval(None) == "" and interval(Interval(-0.5, 0.25), signed=True) == " \\[-0.500, +0.250\\]"


def test_one_confidence_line_per_environment_with_auto_merge_eligibility() -> None:
    loose = [(Gate(name="min-accuracy", metric="accuracy", min=0.9), "model")]
    cand = Subject(V2, {"accuracy": 0.951}, intervals={"accuracy": Interval(0.93, 0.97)})
    sure = Verdict("digits-cnn", "dev", cand, None, judge(loose, cand.metrics, None, intervals=cand.intervals),
                   bootstrap=Bootstrap(rows=359))
    rows = [EnvRow("dev", None, sure, True, auto_merge=True), EnvRow("qa", None, sure, False),
            EnvRow("staging", None, verdict("staging", 0.01), False, auto_merge=True),
            EnvRow("prod", None, None, False)]
    assert confidence_section(report(rows)) == [
        "**Confidence** at each environment's margin (95 % intervals: paired percentile bootstrap over the test "
        "rows, 1000 resamples of 359 rows, seed 0):", "",
        "- dev (margin 0): confident · **auto-merge eligible**",
        "- qa (margin 0): confident",
        "- staging (margin 0.01): not confident — no-regression failed", ""]


def test_a_verdict_without_intervals_renders_and_is_not_confident() -> None:
    old = verdict("staging", intervals=False)
    text = render(ReportData([report([EnvRow("staging", None, old, True, auto_merge=True)])]))
    assert "| accuracy ↑ | 0.9510 | 0.9550 | -0.0040 |" in text
    assert "**Confidence** at each environment's margin (no intervals):" in text
    assert "- staging (margin 0): not confident — no 95 % intervals: the verdict has none" in text
    assert "auto-merge eligible" not in text


def test_the_evaluate_summary_shows_intervals_and_confidence() -> None:
    text = verdict_markdown(verdict("staging", 0.01))
    assert "| `no-regression` | accuracy | regression ≤ 0.01 · on the 95 % bound | 0.9510 \\[0.930, 0.970\\] | " \
           "0.9550 | -0.0040 \\[-0.012, +0.003\\] | ❌ regressed up to 0.0120 at the 95 % bound" in text
    assert "confident at margin 0.01: no (no-regression failed)" in text


def test_collect_reads_auto_merge_from_each_environments_policy(example_repo: Path) -> None:
    repo = load_repository(example_repo)
    data = collect(repo, {("digits-cnn", "staging"): verdict("staging")}, None)
    flags = {row.env: row.auto_merge for row in data.models[0].envs}
    assert flags == {env: repo.environment(env).policy.auto_merge for env in repo.environments}
    assert flags["staging"] is True and flags["prod"] is False
