"""What the report gathers: verdict files, changed models, data and manifest diffs, required environments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.adapters.scm import open_scm
from mlops.core.errors import UsageError, UserError
from mlops.core.policy import Subject, Verdict, judge
from mlops.core.repo import load_repository
from mlops.core.spec.model import Gate
from mlops.report.collect import changed_models, collect, data_change, read_verdicts, required, resolve_base
from mlops.report.report import gate_status
from tests.helpers.git import git, init_repo
from tests.helpers.scored import pin, record_body, write_record

V1, V2 = "20250101-bbbbbbbb", "20250102-aaaaaaaa"


def verdict(model: str, env: str, accuracy: float, version: str = V2, minimum: float = 0.9) -> Verdict:
    gates = [(Gate(name="min-accuracy", metric="accuracy", min=minimum), "model")]
    return Verdict(model, env, Subject(version, {"accuracy": accuracy}), None, judge(gates, {"accuracy": accuracy},
                                                                                     None))


@pytest.fixture
def repo_git(example_repo: Path) -> Path:
    init_repo(example_repo)
    git(example_repo, "checkout", "--quiet", "-b", "proposal")
    return example_repo


def test_read_verdicts_keys_by_model_and_environment(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(verdict("digits-cnn", "dev", 0.95).to_dict()))
    (tmp_path / "b.json").write_text(json.dumps(verdict("digits-cnn", "prod", 0.85).to_dict()))
    (tmp_path / "other.json").write_text('{"kind": "SomethingElse"}')
    (tmp_path / "notes.txt").write_text("ignored")
    found = read_verdicts(tmp_path)
    assert sorted(found) == [("digits-cnn", "dev"), ("digits-cnn", "prod")] and not found[("digits-cnn", "prod")].passed


def test_read_verdicts_refuses_duplicates_and_broken_files(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(verdict("digits-cnn", "dev", 0.95).to_dict()))
    (tmp_path / "b.json").write_text(json.dumps(verdict("digits-cnn", "dev", 0.96).to_dict()))
    with pytest.raises(UserError, match="a second verdict for digits-cnn in dev"):
        read_verdicts(tmp_path)
    (tmp_path / "b.json").write_text("{")
    with pytest.raises(UserError, match="cannot read the verdict"):
        read_verdicts(tmp_path)
    (tmp_path / "b.json").write_text('{"kind": "Verdict", "model": "x"}')
    with pytest.raises(UserError, match="malformed verdict"):
        read_verdicts(tmp_path)
    with pytest.raises(UsageError, match="not a directory"):
        read_verdicts(tmp_path / "missing")


def test_required_environments_are_the_first_and_those_pinning_the_candidate(example_repo: Path) -> None:
    write_record(example_repo, record_body("digits-cnn", V2, {"accuracy": 0.95}))
    pin(example_repo, "staging", "digits-cnn", V2)
    repo = load_repository(example_repo)
    assert [required(repo, "digits-cnn", e, V2) for e in ("dev", "staging", "prod")] == [True, True, False]
    assert required(repo, "digits-cnn", "staging", "20250103-cccccccc") is False


def test_gate_status(example_repo: Path) -> None:
    repo = load_repository(example_repo)
    assert gate_status(repo, {}) == ("success", "no model candidates to gate in this pull request")
    ok = {("digits-cnn", "dev"): verdict("digits-cnn", "dev", 0.95),
          ("digits-cnn", "prod"): verdict("digits-cnn", "prod", 0.95, minimum=0.99)}
    state, text = gate_status(repo, ok)
    assert state == "success"
    assert text == "required gates passed (1 of 2 verdicts pass); not yet promotable: digits-cnn to prod"
    bad = {("digits-cnn", "dev"): verdict("digits-cnn", "dev", 0.5)}
    assert gate_status(repo, bad) == ("failure", f"digits-cnn@{V2} failed dev: min-accuracy")


def test_changed_models_include_untracked_records(repo_git: Path) -> None:
    assert changed_models(open_scm(repo_git), "main") == set()
    spec = repo_git / "models" / "cancer-mlp" / "model.yaml"
    spec.write_text(spec.read_text().replace("dropout: 0.1", "dropout: 0.2"))
    write_record(repo_git, record_body("digits-cnn", V2, {"accuracy": 0.95}))  # untracked, like a downloaded record
    assert changed_models(open_scm(repo_git), "main") == {"cancer-mlp", "digits-cnn"}


def test_data_change_compares_data_dvc_with_the_base(repo_git: Path) -> None:
    assert data_change(open_scm(repo_git), "main") is None
    dvc = repo_git / "data.dvc"
    old = dvc.read_text()
    dvc.write_text(old.replace("da399c5958ea72e7011f9ec8b3fa1f5a.dir", "ffff" * 8 + ".dir"))
    assert data_change(open_scm(repo_git), "main") == ("da399c5958ea72e7011f9ec8b3fa1f5a.dir", "ffff" * 8 + ".dir")


def test_resolve_base(repo_git: Path) -> None:
    sha = git(repo_git, "rev-parse", "main")
    assert resolve_base(open_scm(repo_git), "main", {}, None) == "main"
    assert resolve_base(open_scm(repo_git), None, {}, sha) == sha
    assert resolve_base(open_scm(repo_git), None, {"GITHUB_BASE_REF": "main"}, "f" * 40) is None  # no origin/main here
    assert resolve_base(open_scm(repo_git), None, {}, None) is None
    with pytest.raises(UsageError, match="unknown git revision 'nope'"):
        resolve_base(open_scm(repo_git), "nope", {}, None)


def test_collect_lists_evaluated_and_changed_models_in_promotion_order(repo_git: Path) -> None:
    write_record(repo_git, record_body("digits-cnn", V1, {"accuracy": 0.97}, created="2025-01-01T00:00:00Z"))
    pin(repo_git, "prod", "digits-cnn", V1)
    git(repo_git, "add", "-A")
    git(repo_git, "commit", "--quiet", "-m", "v1 pinned")
    write_record(repo_git, record_body("digits-cnn", V2, {"accuracy": 0.95}))
    verdicts = {("digits-cnn", e): verdict("digits-cnn", e, 0.95) for e in ("prod", "dev")}
    data = collect(load_repository(repo_git), verdicts, "main", head="abc", scm=open_scm(repo_git))
    (digits,) = data.models
    assert digits.candidate == V2 and digits.record is not None and digits.changed
    assert [(r.env, r.baseline.version if r.baseline else None, r.verdict is not None, r.required)
            for r in digits.envs] == [("dev", None, True, True), ("staging", None, False, False),
                                      ("prod", V1, True, False)]
    assert data.base == "main" and data.data is None
    assert data.manifest is not None and data.manifest[0] == "dev: no changes"
    assert data.manifest[2].startswith("prod: 11 added, 0 removed, 1 changed — digits-cnn added")


def test_collect_without_base_says_why_the_manifest_diff_is_missing(example_repo: Path) -> None:
    data = collect(load_repository(example_repo), {}, None)
    assert data.models == [] and data.manifest is None and "pass --base" in data.manifest_note
