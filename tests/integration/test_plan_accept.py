"""The trust rules of the PR loop on real git, a real DVC remote and the local forge.

A model counts as trained only for a record that states the head's exact inputs and that the forge attests
the bot committed; the training output is verified as untrusted data before the bot stores and commits it;
pull requests that change pins or rules get verdicts without training.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlops.adapters.forge.local import LocalForge
from mlops.adapters.scm import open_scm
from mlops.core.repo import load_repository
from mlops.gitops.plan import plan
from tests.conftest import run_cli
from tests.helpers.git import commit_all, git, init_repo, with_origin
from tests.helpers.records import trained_bundle

V1, V2 = "20260101-aaaaaaaa", "20260102-bbbbbbbb"


@pytest.fixture
def proposal(example_repo: Path, tmp_path: Path) -> Path:
    """The example repository on main (with a bare origin and a DVC remote), and a branch that changes cancer-mlp."""
    remote = tmp_path / "dvc-remote"
    shutil.copytree(example_repo / ".dvc" / "cache", remote)
    (example_repo / ".dvc" / "config").write_text(f"[core]\n    remote = r\n['remote \"r\"']\n    url = {remote}\n")
    init_repo(example_repo, gitignore="/data/\n/.mlops/\n__pycache__/\n")
    with_origin(example_repo, tmp_path / "origin.git")
    git(example_repo, "checkout", "-q", "-b", "proposal")
    spec = example_repo / "models/cancer-mlp/model.yaml"
    spec.write_text(spec.read_text().replace("dropout: 0.1", "dropout: 0.2"))
    commit_all(example_repo, "cancer-mlp: more dropout")
    git(example_repo, "push", "-q", "origin", "proposal")
    return example_repo


def _plan(repo: Path) -> dict[str, str]:
    result = plan(load_repository(repo), open_scm(repo), LocalForge(repo), "main")
    return {m.model: ("trained" if not m.train else "train") + ": " + m.reason for m in result.models}


def _accept(repo: Path, bundle: Path, *extra: str) -> tuple[int, str]:
    head = git(repo, "rev-parse", "HEAD")
    res = run_cli("accept", str(bundle), "--head", head, "--repo", str(repo), *extra)
    return res.code, res.out + res.err


def test_a_changed_model_without_a_record_trains(proposal: Path) -> None:
    assert _plan(proposal) == {"cancer-mlp": "train: no version record yet"}


def test_a_hand_written_record_of_the_right_inputs_does_not_count(proposal: Path, tmp_path: Path) -> None:
    trained_bundle(proposal, "cancer-mlp", V1, proposal)  # written into the checkout by a person
    commit_all(proposal, "add a record by hand")
    (line,) = _plan(proposal).values()
    assert line.startswith(f"train: record(s) {V1} state these inputs but were not committed by mlops-bot")


def test_a_record_the_bot_committed_counts_until_an_input_changes(proposal: Path, tmp_path: Path) -> None:
    trained_bundle(proposal, "cancer-mlp", V1, tmp_path / "out")
    code, out = _accept(proposal, tmp_path / "out", "--store", "--commit", "--branch", "proposal")
    assert code == 0, out
    assert "committed cancer-mlp@20260101-aaaaaaaa on proposal as mlops-bot" in out
    git(proposal, "pull", "-q", "--ff-only", "origin", "proposal")
    files = git(proposal, "show", "--name-only", "--format=", "HEAD").splitlines()
    assert sorted(files) == ["models/cancer-mlp/versions/.gitignore", f"models/cancer-mlp/versions/{V1}.dvc",
                             f"models/cancer-mlp/versions/{V1}.md", f"models/cancer-mlp/versions/{V1}.yaml"]
    assert _plan(proposal)["cancer-mlp"].startswith(f"trained: {V1} was trained from these inputs and committed "
                                                    "by mlops-bot")
    model_py = proposal / "models/cancer-mlp/model.py"
    model_py.write_text(model_py.read_text() + "\n# a new model.py, paired with the old record\n")
    commit_all(proposal, "change model.py")
    assert _plan(proposal)["cancer-mlp"] == (f"train: the newest record {V1} was trained from other inputs "
                                             "(model_py_sha256)")


def test_the_training_output_is_untrusted_data(proposal: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    trained_bundle(proposal, "cancer-mlp", V1, out)
    evil = out / ".github" / "workflows" / "evil.yml"
    evil.parent.mkdir(parents=True)
    evil.write_text("on: push\n")
    (out / "mlops").mkdir()
    (out / "mlops" / "__init__.py").write_text("raise SystemExit('shadowed')\n")
    code, text = _accept(proposal, out, "--store", "--no-push")
    assert code == 1 and "unexpected paths .github/workflows/evil.yml, mlops/__init__.py" in text
    assert not (proposal / ".github").exists() and not (proposal / "mlops").exists()
    shutil.rmtree(out / ".github")
    shutil.rmtree(out / "mlops")
    (out / "models/cancer-mlp/versions" / V1 / "link").symlink_to("/etc/passwd")
    code, text = _accept(proposal, out)
    assert code == 1 and "link (not a regular file)" in text


def test_a_record_trained_from_other_inputs_or_tampered_is_refused(proposal: Path, tmp_path: Path) -> None:
    stale = tmp_path / "stale"
    trained_bundle(proposal, "cancer-mlp", V1, stale, params={"hidden": [32, 16], "dropout": 0.1})
    code, text = _accept(proposal, stale)
    assert code == 1 and "not trained from the head's inputs (params differ)" in text
    tampered = tmp_path / "tampered"
    trained_bundle(proposal, "cancer-mlp", V2, tampered)
    (tampered / "models/cancer-mlp/versions" / V2 / "program.pt2").write_bytes(b"swapped")
    code, text = _accept(proposal, tampered)
    assert code == 1 and "artifact files differ from the version record: program.pt2" in text


def test_a_moved_branch_is_never_overwritten(proposal: Path, tmp_path: Path) -> None:
    trained_bundle(proposal, "cancer-mlp", V1, tmp_path / "out")
    head = git(proposal, "rev-parse", "HEAD")
    git(proposal, "commit", "-q", "--allow-empty", "-m", "pushed meanwhile")
    git(proposal, "push", "-q", "origin", "proposal")
    git(proposal, "checkout", "-q", head)
    code, text = _accept(proposal, tmp_path / "out", "--store", "--no-push", "--commit", "--branch", "proposal")
    assert code == 1 and "moved on" in text


def test_pin_and_policy_changes_get_verdicts_without_training(proposal: Path, tmp_path: Path) -> None:
    git(proposal, "checkout", "-q", "main")
    for version, accuracy in ((V1, 0.97), (V2, 0.96)):
        trained_bundle(proposal, "digits-cnn", version, tmp_path / version, metrics={"accuracy": accuracy,
                                                                                     "macro_f1": 0.95,
                                                                                     "log_loss": 0.1})
        shutil.copy(tmp_path / version / f"models/digits-cnn/versions/{version}.yaml",
                    proposal / f"models/digits-cnn/versions/{version}.yaml")
    for env in ("dev", "staging", "prod"):
        path = proposal / "environments" / f"{env}.yaml"
        path.write_text(path.read_text().replace("pins: {}", f"pins: {{digits-cnn: {V1}}}"))
    commit_all(proposal, "v1 everywhere")
    git(proposal, "checkout", "-q", "-b", "pins")
    staging = proposal / "environments/staging.yaml"
    staging.write_text(staging.read_text().replace(f"pins: {{digits-cnn: {V1}}}", f"pins: {{digits-cnn: {V2}}}"))
    prod = proposal / "environments/prod.yaml"
    prod.write_text(prod.read_text().replace("min: 0.93", "min: 0.99"))
    commit_all(proposal, "skip dev; tighten prod")
    res = run_cli("plan", "--base", "main", "--repo", str(proposal), "--json", "--verdicts-out",
                  str(tmp_path / "verdicts"))
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert data["changed"] == [] and data["environments"] == ["prod", "staging"]
    verdicts = {(v["environment"], v["candidate"]["version"]): v for v in data["verdicts"]}
    staged = verdicts[("staging", V2)]
    assert not staged["passed"]
    order = next(g for g in staged["gates"] if g["name"] == "promotion-order")
    assert order["reason"] == f"{V2} is not pinned in dev (there: {V1}); promote it through dev first"
    regression = next(g for g in staged["gates"] if g["name"] == "no-accuracy-regression")
    assert regression["passed"] is False and regression["baseline"] == 0.97
    prod_verdict = verdicts[("prod", V1)]
    assert not prod_verdict["passed"] and prod_verdict["notes"] == [f"{V1} stays pinned; the rules changed"]
    assert sorted(p.name for p in (tmp_path / "verdicts").iterdir()) == [
        "digits-cnn--prod--pin.json", "digits-cnn--staging--pin.json"]
