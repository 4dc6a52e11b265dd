"""Which spec and environment changes loosen a rule (and only those), at their place in the head's files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlops.core.loosening import loosenings
from mlops.core.repo import Repository, load_repository


def edit(repo: Path, rel: str, old: str, new: str) -> None:
    path = repo / rel
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


@pytest.fixture
def pair(example_repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    head = tmp_path / "head"
    shutil.copytree(example_repo, head, ignore=shutil.ignore_patterns("cache"))
    return example_repo, head


def found(base: Path, head: Path) -> list[str]:
    old: Repository = load_repository(base, records=False)
    new: Repository = load_repository(head, records=False)
    assert not old.problems and not new.problems, new.problems
    return [str(p) for p in loosenings(old, new)]


def test_unchanged_and_tightened_rules_need_nothing(pair: tuple[Path, Path]) -> None:
    base, head = pair
    assert found(base, head) == []
    edit(head, "models/digits-cnn/model.yaml", "min: 0.9}", "min: 0.95}")
    edit(head, "environments/staging.yaml", "auto_merge: true ", "auto_merge: false")
    edit(head, "environments/prod.yaml", "max_p99_ms: 250", "max_p99_ms: 200")
    edit(head, "models/digits-cnn/model.yaml", "    - {name: accuracy-regression",
         "    - {name: f1-floor, metric: macro_f1, min: 0.5}\n    - {name: accuracy-regression")
    assert found(base, head) == []


def test_each_loosening_is_named_where_it_happens(pair: tuple[Path, Path]) -> None:
    base, head = pair
    edit(head, "models/digits-cnn/model.yaml", "min: 0.9}", "min: 0.85}")
    edit(head, "models/digits-cnn/model.yaml", "    - {name: accuracy-regression, metric: accuracy, max_regression: "
                                               "0.01}\n", "")
    edit(head, "environments/staging.yaml", "max_regression: 0.005}", "max_regression: 0.02, judge: point}")
    edit(head, "environments/staging.yaml", "confidence_margin: 0.0", "confidence_margin: 0.0")  # unchanged
    edit(head, "environments/prod.yaml", "auto_merge_rollback: false", "auto_merge_rollback: true")
    edit(head, "environments/prod.yaml", "max_p99_ms: 250", "max_p99_ms: 400")
    edit(head, "environments/prod.yaml", "    - {name: prod-min-accuracy, metric: accuracy, min: 0.93}\n", "")
    out = found(base, head)
    assert any(p.startswith("models/digits-cnn/model.yaml:93:") and "gate 'min-accuracy' min 0.9 → 0.85" in p
               for p in out), out
    assert any("gate 'accuracy-regression' (accuracy) removed" in p for p in out)
    assert any(p.startswith("environments/staging.yaml:14:") and "max_regression 0.005 → 0.02" in p for p in out)
    assert any("environments/prod.yaml" in p and "auto_merge_rollback false → true" in p for p in out)
    assert any("rollout max_p99_ms 250 → 400" in p for p in out)
    assert any("gate 'prod-min-accuracy' (accuracy) removed" in p for p in out)
    assert len(out) == 6, out


def test_auto_merge_switched_on_and_a_smaller_margin(pair: tuple[Path, Path]) -> None:
    base, head = pair
    edit(base, "environments/staging.yaml", "auto_merge: true ", "auto_merge: false")
    edit(base, "environments/staging.yaml", "confidence_margin: 0.0", "confidence_margin: 0.02")
    edit(base, "models/digits-cnn/model.yaml", "min: 0.9}", "min: 0.9, judge: bound}")
    out = found(base, head)
    assert [p.split(": ", 1)[1] for p in out] == [
        "loosens environments/staging: auto_merge false → true",
        "loosens environments/staging: confidence_margin 0.02 → 0",
        "loosens models/digits-cnn gates: gate 'min-accuracy' judged by its point value instead of its 95 % bound",
    ]


def test_a_slice_gate_that_judges_less_is_loosening(pair: tuple[Path, Path]) -> None:
    base, head = pair
    text = (head / "models" / "cancer-mlp" / "model.yaml").read_text()
    assert "min_per_slice: 0.85" in text and "max_gap: 0.15" in text
    edit(head, "models/cancer-mlp/model.yaml", "min_per_slice: 0.85", "min_per_slice: 0.8")
    edit(head, "models/cancer-mlp/model.yaml", "max_gap: 0.15", "max_gap: 0.1")  # tighter: nothing to say
    out = found(base, head)
    assert len(out) == 1 and "slice gate 'min-accuracy-per-size' min_per_slice 0.85 → 0.8" in out[0], out
