"""changed_models.py against real git histories: what a PR changed, and what still needs training."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from workflow_harness import ACTIONS, ActionRunner

from tests.helpers.git import git

SCRIPT = ACTIONS / "changed-models" / "changed_models.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("changed_models", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["changed_models"] = module
    spec.loader.exec_module(module)
    return module


cm = _load()


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir()
        self.git("init", "-q", "-b", "main")
        for name in ("alpha", "beta"):
            self.write(f"models/{name}/model.yaml", f"name: {name}\n")
            self.write(f"models/{name}/model.py", "# net\n")
        self.write("data.dvc", "outs:\n- md5: 1\n")
        self.write("environments/dev.yaml", "name: dev\n")
        self.commit("base")

    def git(self, *args: str) -> str:
        return git(self.root, *args)

    def write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def plan(self, base: str = "main", head: str = "HEAD") -> tuple[list[str], list[str]]:
        result = cm.plan(self.root, base, head)
        return result.changed, result.train


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    r = Repo(tmp_path / "repo")
    r.git("checkout", "-q", "-b", "pr")
    return r


def test_nothing_changed(repo: Repo) -> None:
    repo.write("README.md", "docs\n")
    repo.commit("docs")
    assert repo.plan() == ([], [])


def test_a_spec_change_needs_training(repo: Repo) -> None:
    repo.write("models/alpha/model.yaml", "name: alpha\nparams: {lr: 1}\n")
    repo.commit("tune alpha")
    assert repo.plan() == (["alpha"], ["alpha"])


def test_a_record_after_the_change_stops_the_loop_and_a_later_change_restarts_it(repo: Repo) -> None:
    repo.write("models/alpha/model.py", "# bigger net\n")
    repo.commit("change alpha")
    repo.write("models/alpha/versions/20261201-0123abcd.yaml", "digest: x\n")
    repo.commit("mlops: version records")
    assert repo.plan() == (["alpha"], [])  # evaluate, do not train again
    repo.write("models/alpha/model.py", "# bigger net, fixed\n")
    repo.commit("fix alpha")
    assert repo.plan() == (["alpha"], ["alpha"])


def test_prose_and_records_alone_do_not_train(repo: Repo) -> None:
    repo.write("models/beta/README.md", "model card\n")
    repo.write("models/beta/docs/notes.md", "notes\n")
    repo.commit("card")
    assert repo.plan() == (["beta"], [])


def test_a_new_data_version_concerns_every_model(repo: Repo) -> None:
    repo.write("data.dvc", "outs:\n- md5: 2\n")
    repo.commit("new data")
    assert repo.plan() == (["alpha", "beta"], ["alpha", "beta"])


def test_a_deleted_model_and_a_badly_named_directory_are_left_out(repo: Repo) -> None:
    repo.git("rm", "-q", "-r", "models/beta")
    repo.write("models/Bad_Name/model.yaml", "name: Bad_Name\n")
    repo.commit("remove beta, add a bad name")
    assert repo.plan() == ([], [])


def test_changes_on_the_base_after_the_fork_point_are_not_the_prs(repo: Repo) -> None:
    repo.write("models/alpha/model.yaml", "name: alpha\nparams: {lr: 2}\n")
    head = repo.commit("pr changes alpha")
    repo.git("checkout", "-q", "main")
    repo.write("models/beta/model.py", "# changed on main\n")
    repo.commit("main changes beta")
    assert repo.plan("main", head) == (["alpha"], ["alpha"])


def test_an_unknown_base_is_a_clear_error(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    assert cm.main(["--base", "no-such-branch", "--repo", str(repo.root)]) == 2
    assert "changed-models: git merge-base no-such-branch" in capsys.readouterr().err


def test_cli_writes_step_outputs_and_summary(repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    repo.write("models/beta/model.py", "# v2\n")
    repo.commit("beta")
    output, summary = tmp_path / "out", tmp_path / "summary"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert cm.main(["--base", "main", "--repo", str(repo.root)]) == 0
    assert json.loads(capsys.readouterr().out) == {"changed": ["beta"], "train": ["beta"]}
    assert output.read_text() == 'changed=["beta"]\ntrain=["beta"]\n'
    assert "| `beta` | `beta` |" in summary.read_text()


def test_the_composite_action_step_runs_the_script(repo: Repo, action_runner: ActionRunner) -> None:
    repo.write("models/alpha/model.yaml", "name: alpha\nparams: {lr: 3}\n")
    head = repo.commit("alpha")
    result = action_runner.run("changed-models", "Plan", {"base": "main", "head": head, "repo": str(repo.root)})
    assert result.code == 0, result.stderr
    assert result.outputs == {"changed": '["alpha"]', "train": '["alpha"]'}
