"""`mlops monitor` for real: a git repository with a bare remote, DVC's cache, a real version and its traffic.

The version is a real exported digits-cnn; its traffic is logged by the serving runtime's own sink; labels go
through `mlops labels ingest`; the monitor runs as the CLI with evidently (the product's engine) and the local
forge (history branch, pull requests, issues as files beside the bare remote). Windows: the version's own
training distribution (no drift), then inverted images (drift in every pixel, still inside the training range).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from mlops.adapters.forge.local import LocalForge
from mlops.monitor.history import state_path
from tests.conftest import Result, run_cli
from tests.helpers.git import commit_all, git, init_repo, with_origin
from tests.helpers.monitoring import MODEL, digits_table, digits_version, labels_file, log_traffic

SINK = ".mlops/predictions/dev"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def repo(example_repo: Path, tmp_path: Path) -> Iterator[Path]:
    init_repo(example_repo, gitignore="/data/\n/.mlops/\n__pycache__/\n")
    with_origin(example_repo, tmp_path / "origin.git")
    spec = example_repo / "models" / MODEL / "model.yaml"
    spec.write_text(spec.read_text().replace("  window_size: 500\n  min_samples: 200\n",
                                             "  window_size: 300\n  min_samples: 100\n")
                    .replace("  performance: {metric: accuracy, degradation: 0.05}",
                             "  performance: {metric: accuracy, degradation: 0.05, min_labels: 100}"))
    yield example_repo


def pin(repo: Path, version: str, message: str) -> None:
    from mlops.deploy.pin import set_pin

    path = repo / "environments" / "dev.yaml"
    path.write_text(set_pin(path.read_text(), str(path), MODEL, version))
    commit_all(repo, message)
    git(repo, "push", "-q", "origin", "main")


def monitor(repo: Path, *args: str, now: str) -> Result:
    return run_cli("monitor", "--env", "dev", "--model", MODEL, "--now", now, "--repo", str(repo), *args)


def verdict(repo: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((repo / ".mlops" / "monitor" / f"monitor-dev-{MODEL}.json").read_text())


def test_drift_after_hysteresis_opens_one_retraining_pr_with_a_new_data_version(repo: Path) -> None:
    x, _ = digits_table(repo)
    v = digits_version(repo, 0, metrics={"accuracy": 0.1})
    pin(repo, v.version, "pin v1")
    rng = np.random.default_rng(1)
    normal = rng.choice(len(x), 300, replace=False)
    log_traffic(repo, SINK, v, x[normal], start=T0, prefix="a")

    first = monitor(repo, now="2026-12-01T12:00:00Z")
    assert first.code == 0, first.err
    assert "no drift" in first.out and "→ none" in first.out
    out = verdict(repo)
    assert out["verdict"] == "no drift" and out["drift"]["tests"] == 9  # monitoring.features and the prediction
    assert (repo / ".mlops" / "monitor" / f"monitor-dev-{MODEL}.html").stat().st_size > 10_000  # evidently's
    forge = LocalForge(repo)
    tip = forge.branch_tip("mlops/monitor")
    assert tip is not None and forge.is_bot_commit(tip)

    again = monitor(repo, now="2026-12-01T13:00:00Z")  # nothing new: the same situation
    assert again.code == 0 and "already judged" in again.out and forge.branch_tip("mlops/monitor") == tip

    inverted = 16.0 - x[rng.choice(len(x), 600, replace=False)]
    ids = log_traffic(repo, SINK, v, inverted[:300], start=T0.replace(hour=10), prefix="b")
    second = monitor(repo, now="2026-12-01T18:00:00Z")
    assert "drift" in second.out and "→ wait: drift in 1 of the 2 consecutive windows" in second.out, second.out
    assert len(verdict(repo)["drift"]["drifted_columns"]) >= 4 and verdict(repo)["drift"]["prediction_drifted"]

    ids += log_traffic(repo, SINK, v, inverted[300:], start=T0.replace(hour=11), prefix="c")
    labels = labels_file(repo.parent / "labels.csv", ids[-300:], np.arange(300) % 10)
    ingested = run_cli("labels", "ingest", str(labels), "--model", MODEL, "--env", "dev", "--repo", str(repo))
    assert ingested.code == 0, ingested.err
    pointer = (repo / "data.dvc").read_text()
    third = monitor(repo, now="2026-12-02T00:00:00Z")
    assert third.code == 0, third.err
    assert "→ retrain: drift in 2 consecutive windows" in third.out and "[retraining PR #1]" in third.out
    pr = forge.get_pr(1)
    assert pr.head == f"mlops/retrain/{MODEL}" and forge.pull(1)["labels"] == ["mlops", "mlops-retrain"]
    assert "labelled production rows" in pr.body and "pixel_" in pr.body
    new_pointer = git(repo, "show", f"{pr.head_sha}:data.dvc")
    assert new_pointer != pointer and forge.is_bot_commit(pr.head_sha)
    assert "[skip ci]" not in git(repo, "log", "-1", "--format=%B", pr.head_sha)
    assert (repo / "data.dvc").read_text() == pointer and git(repo, "status", "--porcelain") == ""  # untouched
    history = json.loads(forge.read_file("mlops/monitor", state_path("dev", MODEL)) or b"{}")
    assert [r["decision"] for r in history["runs"]] == ["none", "wait", "retrain"]
    assert history["runs"][-1]["acted"] == "retraining PR #1"

    log_traffic(repo, SINK, v, inverted[:200], start=T0.replace(hour=12), prefix="d")
    cooling = monitor(repo, now="2026-12-02T06:00:00Z")  # within monitoring.cooldown_hours (24) of acting
    assert "cooling down after retraining PR #1" in cooling.out and len(forge.pulls()) == 1
    log_traffic(repo, SINK, v, inverted[200:400], start=T0.replace(hour=13), prefix="e")
    fourth = monitor(repo, now="2026-12-03T06:00:00Z")  # after it: the open PR still holds retraining back
    assert "retraining PR #1 is already open" in fourth.out and len(forge.pulls()) == 1


def test_a_data_quality_incident_is_one_issue_until_it_clears(repo: Path) -> None:
    x, _ = digits_table(repo)
    v = digits_version(repo, 0, metrics={"accuracy": 0.1})
    pin(repo, v.version, "pin v1")
    broken = x[:300].copy()
    broken[:40, 5] = np.nan  # a producer that lost a pixel
    broken[:60, 9] = 99.0  # and one that scaled another
    log_traffic(repo, SINK, v, broken, start=T0, prefix="q")
    result = monitor(repo, "--local-drift", now="2026-12-01T12:00:00Z")
    assert result.code == 0, result.err
    forge = LocalForge(repo)
    issues = {i["title"]: i for i in forge.issues()}
    assert set(issues) == {f"Data quality: missing in {MODEL} (dev)", f"Data quality: out-of-range in {MODEL} (dev)"}
    assert all(i["state"] == "open" and "mlops-data-quality" in i["labels"] for i in issues.values())
    assert "pixel\\_5" in issues[f"Data quality: missing in {MODEL} (dev)"]["body"]
    log_traffic(repo, SINK, v, x[300:600], start=T0.replace(hour=10), prefix="r")
    assert monitor(repo, "--local-drift", now="2026-12-01T18:00:00Z").code == 0
    assert [i["state"] for i in forge.issues()] == ["closed", "closed"] and len(forge.issues()) == 2


def test_worse_live_performance_after_a_promotion_rolls_back(repo: Path) -> None:
    x, y = digits_table(repo)
    dev = repo / "environments" / "dev.yaml"
    sink = repo.parent / "bucket"  # a cluster's sink is a URL: file:// stands in for s3:// (tests/…/test_sinks_s3)
    dev.write_text(dev.read_text().replace("delivery:\n  mode: local", 'delivery:\n  mode: pull\n  gitops: '
                                           '{engine: argocd, repo_url: "https://github.com/o/r"}')
                   .replace(f"predictions: {SINK}", f"predictions: {sink.as_uri()}"))
    v1 = digits_version(repo, 0, metrics={"accuracy": 0.9})  # what v1 scored on its test split
    pin(repo, v1.version, "pin v1")
    v2 = digits_version(repo, 1, metrics={"accuracy": 0.95})  # it claims 0.95; live it is an untrained net
    pin(repo, v2.version, "promote v2")
    rows = np.random.default_rng(2).choice(len(x), 600, replace=False)
    runs = []
    for i, part in enumerate((rows[:300], rows[300:])):
        ids = log_traffic(repo, str(sink), v2, x[part], start=T0.replace(hour=9 + i), prefix=f"p{i}")
        labels = labels_file(repo.parent / f"labels-{i}.csv", ids, y[part])
        assert run_cli("labels", "ingest", str(labels), "--model", MODEL, "--env", "dev", "--repo",
                       str(repo)).code == 0
        now = datetime.now(UTC).replace(microsecond=0)  # the promotion was just now: recent
        runs.append(monitor(repo, "--local-drift", now=now.isoformat().replace("+00:00", "Z")))
    assert "(worse) → wait" in runs[0].out, runs[0].out
    assert "(worse) → rollback" in runs[1].out and f"{v1.version} did better" in runs[1].out, runs[1].out
    forge = LocalForge(repo)
    (pr,) = forge.pulls()
    assert pr["head"] == f"mlops/rollback/dev-{MODEL}" and "mlops-rollback" in pr["labels"]
    assert verdict(repo)["live"]["verdict"] == "worse"
