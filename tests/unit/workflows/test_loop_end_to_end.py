"""The PR loop through the composite actions with the real mlops verbs, on a copy of the example repository.

A PR changes a model → `plan` (the forge finds the PR) says train it → `train` (real, CPU, no push) hands over the
record and the artifact → `accept` verifies them, stores the artifact in the DVC remote and commits record, pointer
and .gitignore on the PR branch as the bot (local forge) → `plan` on the new head says evaluate only (the loop
stops) → `evaluate` against every environment → the mlops/gates status.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from workflow_harness import ActionRunner

from mlops.adapters.forge.local import LocalForge
from tests.helpers.git import commit_all, git, init_repo, with_origin


@pytest.mark.slow
def test_a_model_change_trains_once_then_evaluates_and_gates(example_repo: Path, action_runner: ActionRunner,
                                                              tmp_path: Path) -> None:
    py = sys.executable
    repo = example_repo
    remote = tmp_path / "dvc-remote"
    shutil.copytree(repo / ".dvc" / "cache", remote)
    (repo / ".dvc" / "config").write_text(f"[core]\n    remote = r\n['remote \"r\"']\n    url = {remote}\n")
    init_repo(repo, gitignore="/data/\n/.mlops/\n__pycache__/\n")
    with_origin(repo, tmp_path / "origin.git")
    git(repo, "checkout", "-q", "-b", "tune-cancer")
    spec = repo / "models" / "cancer-mlp" / "model.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("epochs: 30", "epochs: 4"), encoding="utf-8")
    commit_all(repo, "cancer-mlp: fewer epochs")
    git(repo, "push", "-q", "origin", "tune-cancer")
    pr = LocalForge(repo).open_pr("tune-cancer", "main", "Fewer epochs", "").number

    def plan() -> dict[str, str]:
        result = action_runner.run("plan", "mlops plan", {"pr": str(pr), "repo": str(repo), "python": py})
        assert result.code == 0, result.stdout + result.stderr
        return {k: result.outputs[k] for k in ("changed", "train", "same-repo")}

    assert plan() == {"changed": '["cancer-mlp"]', "train": '["cancer-mlp"]', "same-repo": "true"}
    trained_dir = tmp_path / "trained"
    trained = action_runner.run("train", "mlops train", {"model": "cancer-mlp", "repo": str(repo),
                                                         "out-dir": str(trained_dir), "python": py})
    assert trained.code == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    version, head = trained.outputs["version"], git(repo, "rev-parse", "HEAD")

    # the `record` job: a fresh checkout of the head; the training output is data in a temporary directory
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", "--branch", "tune-cancer", str(tmp_path / "origin.git"), str(work))
    git(work, "checkout", "-q", "--detach", head)
    shutil.copytree(repo / ".dvc", work / ".dvc", dirs_exist_ok=True)
    (work / ".mlops" / "forge").parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(repo / ".mlops" / "forge", work / ".mlops" / "forge")
    for mode, extra in (("store", {}), ("commit", {"branch": "tune-cancer"})):
        accepted = action_runner.run("accept", "mlops accept", {"mode": mode, "dir": str(trained_dir), "head": head,
                                                                "repo": str(work), "python": py, **extra})
        assert accepted.code == 0, accepted.stdout + accepted.stderr
    committed = git(tmp_path / "origin.git", "show", "--name-only", "--format=%an", "tune-cancer").splitlines()
    assert committed[0] == "mlops-bot"
    assert sorted(c for c in committed[1:] if c) == sorted(["models/cancer-mlp/versions/.gitignore",
                                            f"models/cancer-mlp/versions/{version}.dvc",
                                            f"models/cancer-mlp/versions/{version}.md",  # its model card
                                            f"models/cancer-mlp/versions/{version}.yaml"])

    # the next run: a fresh checkout of the new head; the artifact only in the DVC remote
    shutil.copytree(work / ".mlops" / "forge", repo / ".mlops" / "forge", dirs_exist_ok=True)
    git(repo, "checkout", "-q", "--", "models")
    git(repo, "clean", "-q", "-fdx", "--", "models")
    git(repo, "pull", "-q", "--ff-only", "origin", "tune-cancer")
    assert plan() == {"changed": '["cancer-mlp"]', "train": "[]", "same-repo": "true"}

    verdicts = tmp_path / "verdicts"
    evaluated = action_runner.run("evaluate", "mlops evaluate", {"model": "cancer-mlp", "repo": str(repo),
                                                                 "out-dir": str(verdicts), "python": py})
    assert evaluated.code == 0, evaluated.stdout[-3000:] + evaluated.stderr[-3000:]
    files = sorted(p.name for p in verdicts.iterdir())
    assert files == ["cancer-mlp--dev.json", "cancer-mlp--prod.json", "cancer-mlp--staging.json"]
    assert json.loads((verdicts / files[0]).read_text())

    status = action_runner.run("report", "mlops report", {"mode": "status", "sha": git(repo, "rev-parse", "HEAD"),
                                                          "verdicts": str(verdicts), "repo": str(repo),
                                                          "token": "", "python": py})
    assert status.code == 0, status.stdout + status.stderr
    assert f"mlops/gates = {'success' if evaluated.outputs['passed'] == 'true' else 'failure'}" in status.stdout
