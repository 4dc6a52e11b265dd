"""Slices for real: train cancer-mlp on the example data, its record carries the tumour-size slices, and
`mlops evaluate` measures them on the same test rows and judges the slice gates; the report shows the table."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlops.core.repo import load_repository
from tests.conftest import run_cli
from tests.helpers.git import git

pytestmark = pytest.mark.slow
MODEL = "cancer-mlp"
SLICES = ["small", "medium", "large"]


def cli(repo: Path, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_"))}
    result = run_cli(*args, "--repo", str(repo), env={**env, "CI": "true"})
    return result.code, result.out, result.err


def test_train_records_slices_and_evaluate_judges_them(example_repo: Path) -> None:
    (example_repo / ".gitignore").write_text("/data/\n/.mlops/\n__pycache__/\n")
    git(example_repo, "init", "-q", "-b", "main")
    git(example_repo, "add", "-A")
    git(example_repo, "commit", "-qm", "base")
    code, out, err = cli(example_repo, "train", MODEL, "--epochs", "2", "--device", "cpu", "--threads", "1",
                         "--no-push", "--json")
    assert code == 0, err
    version = json.loads(out)["version"]
    record = load_repository(example_repo).records[MODEL][version].spec
    assert sorted(record.slices) == sorted(SLICES)  # a record sorts its keys
    assert sum(s.rows for s in record.slices.values()) == record.evaluation_data.rows["test"]
    for score in record.slices.values():
        assert score.rows >= 20 and set(score.metrics) == {"accuracy", "macro_f1", "log_loss"}
        low, high = score.intervals["accuracy"]
        assert low - 1e-9 <= score.metrics["accuracy"] <= high + 1e-9
    assert cli(example_repo, "validate")[0] == 0  # the record, slices included, keeps its digest

    verdicts = example_repo.parent / "verdicts"
    code, out, err = cli(example_repo, "evaluate", MODEL, "--against", "dev", "--json-dir", str(verdicts))
    assert code in (0, 1), err
    verdict = json.loads((verdicts / f"{MODEL}--dev.json").read_text())
    assert verdict["candidate"]["slices"] == {k: v.model_dump(mode="json") for k, v in record.slices.items()}
    gates = {g["name"]: g for g in verdict["gates"]}
    worst = gates["min-accuracy-per-size"]
    assert worst["worst_slice"] in SLICES and worst["value_low"] <= worst["value"] <= worst["value_high"]
    assert worst["value"] == min(s.metrics["accuracy"] for s in record.slices.values())
    gap = gates["max-accuracy-gap-by-size"]
    accuracies = [s.metrics["accuracy"] for s in record.slices.values()]
    assert gap["value"] == pytest.approx(max(accuracies) - min(accuracies))
    assert "every slice ≥ 0.85" in out and "gap between slices ≤ 0.15" in out

    code, out, err = cli(example_repo, "report", "--verdicts", str(verdicts), "--out", str(verdicts / "report.md"))
    assert code == 0, err
    report = (verdicts / "report.md").read_text()
    assert "**Slices** on the held-out test split" in report and "| `medium` · `12 ≤ mean_radius < 15` |" in report
    assert report.count("⚠️ **") == 1

    # the model card: committed next to the record, inside the artifact, and on demand with today's gates
    card = (example_repo / "models" / MODEL / "versions" / f"{version}.md").read_text()
    assert card.startswith(f"# Model card: {MODEL} @ {version}")
    assert "## Intended use" in card and "Not a medical device" in card and "## Limitations" in card
    assert "## Metrics per slice" in card and "| medium |" in card and f"`{record.data.md5}`" in card
    assert "## Gates (when the version was recorded" in card and "| prod | prod-min-accuracy |" in card
    from mlops.adapters.artifacts import fetch_verified

    artifact_card = (fetch_verified(example_repo, record) / "MODEL_CARD.md").read_text()
    assert "## Intended use" in artifact_card and "| medium |" in artifact_card
    git(example_repo, "add", "-A")
    git(example_repo, "commit", "-qm", "the record and its card")
    code, out, err = cli(example_repo, "explain", f"{MODEL}@{version}", "--card")
    assert code == 0, err
    assert "## Gates (now:" in out and "## How it got where it runs" in out and "not pinned in any" in out
    code, out, err = cli(example_repo, "explain", f"{MODEL}@{version}")
    assert code == 0 and f"model card      models/{MODEL}/versions/{version}.md" in out, err
