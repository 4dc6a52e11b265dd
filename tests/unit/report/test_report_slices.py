"""The report's slice table: rules, rows, gated metrics with intervals for the candidate and each baseline, the
worst slice flagged, too few rows said, values escaped."""

from __future__ import annotations

from mlops.core.policy import Subject, Verdict
from mlops.core.slicegates import judge_slices
from mlops.core.slices import Measured
from mlops.core.spec.model import ModelSpec, Slice, SliceGate
from mlops.core.spec.record import SliceMetrics
from mlops.report.collect import EnvRow, ModelReport, ReportData
from mlops.report.markdown import render
from mlops.report.slicetable import SliceView, rule, slices_section, view

GATES = [SliceGate(name="min-accuracy-per-size", metric="accuracy", min_per_slice=0.85),
         SliceGate(name="gap", metric="accuracy", max_gap=0.15, min_rows=30)]


def score(rows: int, accuracy: float, low: float, high: float) -> SliceMetrics:
    return SliceMetrics(rows=rows, metrics={"accuracy": accuracy, "log_loss": 0.2},
                        intervals={"accuracy": [low, high]})


CANDIDATE = {"small": score(42, 1.0, 1.0, 1.0), "medium": score(54, 0.8889, 0.796, 0.963),
             "large": score(43, 0.9302, 0.837, 1.0), "tiny": score(25, 0.5, 0.3, 0.7)}
BASELINE = {"small": score(42, 1.0, 1.0, 1.0), "medium": score(54, 0.9444, 0.87, 1.0),
            "large": score(43, 0.9767, 0.93, 1.0), "tiny": score(25, 0.6, 0.4, 0.8)}
VIEW = SliceView({"small": "0 ≤ mean_radius < 12", "medium": "12 ≤ mean_radius < 15", "large": "mean_radius ≥ 15",
                  "tiny": "mean_area * 2 > 3000 and mean_texture < 10"}, ["accuracy"],
                 {"small": 30, "medium": 30, "large": 30, "tiny": 30})


def verdict(env: str, base: bool = True) -> Verdict:
    cand = Subject("20250102-aaaaaaaa", {"accuracy": 0.93}, slices=CANDIDATE)
    baseline = Subject("20250101-bbbbbbbb", {"accuracy": 0.97}, slices=BASELINE) if base else None
    order = list(CANDIDATE)
    results = judge_slices(GATES, Measured(CANDIDATE), Measured(BASELINE) if base else None, order)
    return Verdict("cancer-mlp", env, cand, baseline, results)


def test_the_slice_table_flags_the_worst_slice_and_says_too_few_rows() -> None:
    lines = slices_section([verdict("staging")], VIEW)
    assert lines == [
        "**Slices** on the held-out test split (95 % intervals; ⚠️ the worst slice — accuracy: `medium`):",
        "",
        "| slice | rows | accuracy ↑ candidate | accuracy `20250101-bbbbbbbb` (staging) |",
        "|---|---:|---:|---:|",
        "| `small` · `0 ≤ mean_radius < 12` | 42 | 1.0000 \\[1.000, 1.000\\] | 1.0000 \\[1.000, 1.000\\] |",
        "| `medium` · `12 ≤ mean_radius < 15` | 54 | ⚠️ **0.8889 \\[0.796, 0.963\\]** | 0.9444 \\[0.870, 1.000\\] |",
        "| `large` · `mean_radius ≥ 15` | 43 | 0.9302 \\[0.837, 1.000\\] | 0.9767 \\[0.930, 1.000\\] |",
        "| `tiny` · `mean_area * 2 > 3000 and mean_texture < 10` | 25 · too few rows (< 30) | 0.5000 \\[0.300, "
        "0.700\\] | 0.6000 \\[0.400, 0.800\\] |",
        ""]


def test_without_a_spec_view_every_metric_is_shown_and_nothing_without_slices() -> None:
    lines = slices_section([verdict("dev", base=False)], None)
    assert lines[2] == "| slice | rows | accuracy ↑ candidate | log\\_loss ↓ candidate |"
    assert "⚠️ **0.5000" in lines[7]  # the default 20 rows: tiny (25 rows) is judged, and it is the worst
    plain = Verdict("m", "dev", Subject("v", {"accuracy": 0.9}), None, ())
    assert slices_section([plain], VIEW) == [] and slices_section([], VIEW) == []


def test_the_report_shows_slices_after_the_metrics_and_slice_gates_among_the_gates() -> None:
    rows = [EnvRow("dev", None, verdict("dev", base=False), True), EnvRow("staging", None, verdict("staging"), False)]
    markdown = render(ReportData([ModelReport("cancer-mlp", "20250102-aaaaaaaa", None, rows, True, VIEW)]))
    assert markdown.index("**Metrics**") < markdown.index("**Slices**") < markdown.index("**Gates**")
    assert "| dev, staging | `min-accuracy-per-size` | every slice ≥ 0.85 | 0.5000 | ❌ worst slice tiny: " \
           "accuracy 0.5000 \\< min 0.85 |" in markdown  # tiny's 25 rows are enough for this gate, not for gap
    assert "| dev, staging | `gap` | gap between slices ≤ 0.15 | 0.1111 | ✅ gap 0.1111 between small (1.0000) and " \
           "medium (0.8889) ≤ max 0.15; not judged: tiny (25 rows \\< 30) |" in markdown


def test_slice_rules_and_the_spec_view() -> None:
    assert rule(Slice(name="a", column="x", range=[12, 15])) == "12 ≤ x < 15"
    assert rule(Slice(name="a", column="x", range=[float("-inf"), 2.5])) == "x < 2.5"
    assert rule(Slice(name="a", column="x", values=[1, 2, True])) == "x in {1, 2, true}"
    assert rule(Slice(name="a", where="x > 1")) == "x > 1"
    spec = ModelSpec.model_validate({
        "name": "m", "description": "d", "owners": ["bob"], "task": "classification",
        "data": {"path": "data/x.csv", "features": {"x": "float32"}, "label": "y"},
        "evaluation": {"metrics": ["accuracy", "log_loss"],
                       "slices": [{"name": "lo", "column": "x", "range": [0, 1]},
                                  {"name": "hi", "column": "x", "range": [1, 2]}],
                       "slice_gates": [{"name": "g", "metric": "log_loss", "max_gap": 0.1, "slices": ["hi", "lo"],
                                        "min_rows": 50}]},
        "serving": {"input": {"shape": [1]}}})
    assert view(spec) == SliceView({"lo": "0 ≤ x < 1", "hi": "1 ≤ x < 2"}, ["log_loss"], {"hi": 50, "lo": 50})
