"""The PR loop through the composite actions with the real mlops verbs, on a copy of the example repository.

A PR changes a model → changed-models says train it → validate → train (real, CPU) → the `record` step commits
the record, its DVC pointer and .gitignore and pushes them to the PR branch → changed-models on the new head says
evaluate only (the loop stops) → evaluate against every environment → the mlops/gates status (local forge).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from workflow_harness import ActionRunner, run_workflow_step

from tests.helpers.git import git


@pytest.mark.slow
def test_a_model_change_trains_once_then_evaluates_and_gates(example_repo: Path, action_runner: ActionRunner,
                                                              tmp_path: Path) -> None:
    py = sys.executable
    repo = example_repo
    (repo / ".gitignore").write_text("/data/\n/.mlops/\n__pycache__/\n", encoding="utf-8")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(origin)], check=True)
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "checkout", "-q", "-b", "tune-cancer")
    spec = repo / "models" / "cancer-mlp" / "model.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("epochs: 30", "epochs: 4"), encoding="utf-8")
    git(repo, "commit", "-q", "-am", "cancer-mlp: fewer epochs")
    git(repo, "push", "-q", "origin", "tune-cancer")

    def plan() -> dict[str, str]:
        result = action_runner.run("changed-models", "Plan", {"base": "main", "head": "HEAD", "repo": str(repo)})
        assert result.code == 0, result.stderr
        return result.outputs

    assert plan() == {"changed": '["cancer-mlp"]', "train": '["cancer-mlp"]'}
    validated = action_runner.run("validate", "mlops validate", {"repo": str(repo), "base": "main", "python": py})
    assert validated.code == 0, validated.stdout + validated.stderr

    records = tmp_path / "records"
    trained = action_runner.run("train", "mlops train", {"model": "cancer-mlp", "repo": str(repo),
                                                         "records-dir": str(records), "python": py})
    assert trained.code == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    [record] = trained.outputs["records"].splitlines()

    # the `record` job: a fresh detached checkout of the PR head, the downloaded files, commit, push
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", "--branch", "tune-cancer", str(origin), str(work)], check=True)
    head = git(work, "rev-parse", "HEAD")
    git(work, "checkout", "-q", "--detach", head)
    shutil.copytree(records, work, dirs_exist_ok=True)
    pushed = run_workflow_step("mlops-pr.yml", "record", "Commit and push them to the PR branch",
                               {"TOKEN": "t", "APP_SLUG": "mlops", "EXPECTED": head, "HEAD_REF": "tune-cancer"},
                               cwd=work, tmp=tmp_path)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    # the next run is a fresh checkout elsewhere: no training output, the artifact only in the DVC remote
    git(repo, "checkout", "-q", "--", "models")
    git(repo, "clean", "-q", "-fdx", "--", "models")
    git(repo, "pull", "-q", "--ff-only", "origin", "tune-cancer")
    committed = git(repo, "show", "--name-only", "--format=", "HEAD").splitlines()
    assert record in committed and record.replace(".yaml", ".dvc") in committed

    assert plan() == {"changed": '["cancer-mlp"]', "train": "[]"}  # the run the push starts evaluates only
    revalidated = action_runner.run("validate", "mlops validate", {"repo": str(repo), "base": "main", "python": py})
    assert revalidated.code == 0, revalidated.stdout + revalidated.stderr

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
