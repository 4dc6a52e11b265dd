"""evaluation.slices and evaluation.slice_gates in model.yaml: every mistake at its file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.core.checks import check_repository
from mlops.core.repo import load_repository

MODEL = "models/cancer-mlp/model.yaml"
MEDIUM = "    - {name: medium, column: mean_radius, range: [12, 15]}"
LARGE = "    - {name: large, column: mean_radius, range: [15, .inf]}"
GAP = "    - {name: max-accuracy-gap-by-size, metric: accuracy, max_gap: 0.15}"


def problems(repo: Path, old: str, new: str) -> list[str]:
    path = repo / MODEL
    text = path.read_text("utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), "utf-8")
    loaded = load_repository(repo)
    found = loaded.problems or check_repository(loaded)
    return sorted(str(p) for p in found)


def test_the_example_slices_are_valid(example_repo: Path) -> None:
    loaded = load_repository(example_repo)
    assert loaded.problems == [] and check_repository(loaded) == []
    spec = loaded.model("cancer-mlp")
    assert [s.name for s in spec.evaluation.slices] == ["small", "medium", "large"]
    assert spec.evaluation.slices[2].range == [15.0, float("inf")]


@pytest.mark.parametrize(("old", "new", "expected"), [
    (MEDIUM, "    - {name: small, column: mean_radius, range: [12, 15]}",
     f"{MODEL}:64:14: slice name 'small' is used twice; expected unique slice names"),
    (MEDIUM, "    - {name: medium, column: mean_radios, range: [12, 15]}",
     f"{MODEL}:64:30: slice 'medium' reads column 'mean_radios', which is not a feature; did you mean "
     "'mean_radius'?"),
    (MEDIUM, "    - {name: medium, column: mean_radius, range: [15, 12]}",
     f"{MODEL}:64:50: evaluation.slices[1].range: range [15, 12] is empty; expected [lo, hi] with lo < hi"),
    (MEDIUM, "    - {name: medium, range: [12, 15]}",
     f"{MODEL}:64:7: evaluation.slices[1]: slice 'medium' sets range but no column; expected column: <a feature>"),
    (MEDIUM, "    - {name: medium, column: mean_radius, values: [1], range: [12, 15]}",
     f"{MODEL}:64:7: evaluation.slices[1]: slice 'medium' sets values and range; expected exactly one of values "
     "or range (with column), or where"),
    (LARGE, "    - {name: large, where: \"__import__('os').system('rm -rf /') > 0\"}",
     f"{MODEL}:65:28: evaluation.slices[2].where: \"__import__('os').system('rm -rf /') > 0\" is not an allowed "
     "slice expression: at character 1: a function call is not allowed; expected comparisons of feature names and "
     "numbers (+ - * /), joined by and, or, not — e.g. 'mean_radius >= 15 and mean_texture < 20'"),
    (LARGE, "    - {name: large, where: 'mean_radius >= 15 and worst_texure < 30'}",
     f"{MODEL}:65:28: slice 'large': 'worst_texure' (at character 23 of the expression) is not a feature; did you "
     "mean 'worst_texture'?"),
    (GAP, "    - {name: min-accuracy, metric: accuracy, max_gap: 0.15}",
     f"{MODEL}:68:14: gate name 'min-accuracy' is used twice (gates and slice_gates share names); expected unique "
     "gate names"),
    (GAP, "    - {name: max-accuracy-gap-by-size, metric: mae, max_gap: 0.15}",
     f"{MODEL}:68:48: slice gate 'max-accuracy-gap-by-size' names metric 'mae', which model 'cancer-mlp' does not "
     "produce; expected one of ['accuracy', 'macro_f1', 'log_loss']"),
    (GAP, "    - {name: max-accuracy-gap-by-size, metric: accuracy, max_gap: 0.15, slices: [small, huge]}",
     f"{MODEL}:68:89: slice gate 'max-accuracy-gap-by-size' names slice 'huge', which evaluation.slices does not "
     "define; expected one of ['large', 'medium', 'small']"),
    (GAP, "    - {name: max-accuracy-gap-by-size, metric: accuracy, max_gap: 0.15, slices: [small]}",
     f"{MODEL}:68:67: slice gate 'max-accuracy-gap-by-size' measures a gap over fewer than two slices; expected "
     "at least two"),
    (GAP, "    - {name: max-accuracy-gap-by-size, metric: accuracy, max_gap: 0.15, min_per_slice: 0.9}",
     f"{MODEL}:68:7: evaluation.slice_gates[1]: slice gate 'max-accuracy-gap-by-size' sets min_per_slice and "
     "max_gap; expected exactly one of min_per_slice, max_per_slice or max_gap (write a gate per rule)"),
    (GAP, "    - {name: max-accuracy-gap-by-size, metric: accuracy, max_gap: -0.1}",
     f"{MODEL}:68:67: evaluation.slice_gates[1].max_gap: expected greater than or equal to 0, got -0.1"),
])
def test_slice_mistakes_are_reported_where_they_are(example_repo: Path, old: str, new: str, expected: str) -> None:
    assert problems(example_repo, old, new) == [expected]


def test_gates_without_slices_are_refused(example_repo: Path) -> None:
    path = example_repo / MODEL
    text = path.read_text("utf-8")
    start, end = text.index("  slices:\n"), text.index("  slice_gates:")
    path.write_text(text[:start] + text[end:], "utf-8")
    found = sorted(str(p) for p in check_repository(load_repository(example_repo)))
    assert found[0] == (f"{MODEL}:63:7: slice gate 'min-accuracy-per-size' has no slices to judge; expected "
                        "evaluation.slices to name some")
    assert len(found) == 2
