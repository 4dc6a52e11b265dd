"""Cross-file checks: what no single file's schema can see."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlops.core.checks import check_repository
from mlops.core.repo import load_repository

MODEL = "models/cancer-mlp/model.yaml"
CODE = "models/cancer-mlp/model.py"
STAGING = "environments/staging.yaml"
PROD = "environments/prod.yaml"
DEV = "environments/dev.yaml"


def edit(repo: Path, rel: str, old: str, new: str) -> None:
    path = repo / rel
    text = path.read_text("utf-8")
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new, 1), "utf-8")


def found(repo: Path) -> list[str]:
    loaded = load_repository(repo)
    assert loaded.problems == [], loaded.problems  # these tests break only the cross-file rules
    return sorted(str(p) for p in check_repository(loaded))


def found_on_load(repo: Path) -> list[str]:
    """Problems of loading alone: a version record's integrity is checked as it loads."""
    return sorted(str(p) for p in load_repository(repo).problems)


def env_file(repo: Path, name: str, promoted_from: str | None = None, extra: str = "") -> None:
    text = f"name: {name}\ntarget: local\n" + (f"promoted_from: {promoted_from}\n" if promoted_from else "") + extra
    (repo / "environments" / f"{name}.yaml").write_text(text)


def test_example_repository_has_no_problems(example_repo: Path) -> None:
    assert found(example_repo) == []


# --- model ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "expected"), [
    ("name: cancer-mlp", "name: cancer-net",
     "models/cancer-mlp/model.yaml:4:7: name 'cancer-net' does not match its directory models/cancer-mlp/; "
     "expected 'cancer-mlp'"),
    ("metrics: [accuracy, macro_f1, log_loss]", "metrics: [accuracy, macro_f1, log_loss, rmse]",
     "models/cancer-mlp/model.yaml:57:43: metric 'rmse' does not apply to classification; expected one of "
     "['accuracy', 'log_loss', 'macro_f1']"),
    ("metrics: [accuracy, macro_f1, log_loss]", "metrics: [accuracy, macro_f1]",
     "models/cancer-mlp/model.yaml:60:36: gate 'max-log-loss' names metric 'log_loss', which model 'cancer-mlp' "
     "does not produce; expected one of ['accuracy', 'macro_f1']"),
    ("{name: max-log-loss, metric: log_loss", "{name: min-accuracy, metric: log_loss",
     "models/cancer-mlp/model.yaml:60:14: gate name 'min-accuracy' is used twice; expected unique gate names"),
    ("shape: [30]", "shape: [6, 6]",
     "models/cancer-mlp/model.yaml:70:47: serving.input.shape [6, 6] holds 36 values but data.features lists 30 "
     "columns; expected shape whose product is 30, e.g. [30]"),
    ("window_size: 300", "features: [mean_radius, nope]\n  window_size: 300",
     "models/cancer-mlp/model.yaml:77:27: monitored feature 'nope' is not in data.features; expected one of its "
     "columns"),
    ("performance: {metric: accuracy", "performance: {metric: rmse",
     "models/cancer-mlp/model.yaml:80:25: performance metric 'rmse' is not computed; expected one of "
     "evaluation.metrics ['accuracy', 'macro_f1', 'log_loss']"),
    ("timeout_minutes: 15", "timeout_minutes: 15\n  gpus: 2\n  device: cpu",
     "models/cancer-mlp/model.yaml:56:9: training.gpus > 1 with device 'cpu'; expected device 'auto' or 'cuda'"),
])
def test_model_rules(example_repo: Path, old: str, new: str, expected: str) -> None:
    edit(example_repo, MODEL, old, new)
    assert expected in found(example_repo)


def test_label_listed_as_a_feature(example_repo: Path) -> None:
    edit(example_repo, MODEL, "    mean_radius: float64", "    malignant: float64\n    mean_radius: float64")
    edit(example_repo, MODEL, "shape: [30]", "shape: [31]")
    assert found(example_repo) == [
        "models/cancer-mlp/model.yaml:11:10: label column 'malignant' is also listed in data.features; expected the "
        "label apart from the features"]


# --- user code -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    (b"def make(params, n_features, n_outputs):\n    pass\n",
     "models/cancer-mlp/model.py:1:1: missing function build(params, n_features, n_outputs); expected the model "
     "contract (see `mlops new model`)"),
    (b"x = 1\ndef build(params, n_features, n_outputs)\n    pass\n",
     "models/cancer-mlp/model.py:2:41: Python syntax error: expected ':'"),
    (b"def build(a, b, c):\n    pass\x00\n",
     "models/cancer-mlp/model.py:1:1: Python syntax error: source code string cannot contain null bytes"),
    (b"\n\ndef build(params):\n    pass\n",
     "models/cancer-mlp/model.py:3:1: build() must accept (params, n_features, n_outputs); expected three "
     "positional parameters"),
    (b"def build(params, n_features, n_outputs, extra):\n    pass\n",
     "models/cancer-mlp/model.py:1:1: build() must accept (params, n_features, n_outputs); expected three "
     "positional parameters"),
    (b"def build(params, n_features, n_outputs, *, device):\n    pass\n",
     "models/cancer-mlp/model.py:1:1: build() must accept (params, n_features, n_outputs); expected three "
     "positional parameters"),
    (b"async def build(params, n_features, n_outputs):\n    pass\n",
     "models/cancer-mlp/model.py:1:1: build() is async; expected a plain function build(params, n_features, "
     "n_outputs)"),
])
def test_user_code_contract(example_repo: Path, source: bytes, expected: str) -> None:
    (example_repo / CODE).write_bytes(source)
    assert found(example_repo) == [expected]


@pytest.mark.parametrize("source", [
    "def build(params, n_features, n_outputs):\n    pass\n",
    "def build(params, n_features, n_outputs, dropout=0.1, *, device=None):\n    pass\n",
    "def build(*args):\n    pass\n",
    "from mylib.nets import build\n",
    "import mylib as build\n",
    "def _make(p, f, o):\n    pass\nbuild = _make\n",
    "class build:\n    def __init__(self, params, n_features, n_outputs):\n        pass\n",
])
def test_user_code_contract_accepts(example_repo: Path, source: str) -> None:
    edit(example_repo, MODEL, "params:\n  hidden: [32, 16]\n  dropout: 0.1\n", "")  # these builders read none
    (example_repo / CODE).write_text(source)
    assert found(example_repo) == []


def test_user_code_missing(example_repo: Path) -> None:
    (example_repo / CODE).unlink()
    assert found(example_repo) == [
        "models/cancer-mlp/model.yaml:8:7: user code models/cancer-mlp/model.py does not exist; expected a file "
        "defining build()"]


def test_user_code_symlink_outside_the_model_is_refused(example_repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.py"
    outside.write_text("def build(p, f, o):\n    pass\n")
    (example_repo / CODE).unlink()
    (example_repo / CODE).symlink_to(outside)
    assert found(example_repo) == [
        "models/cancer-mlp/model.yaml:8:7: user code models/cancer-mlp/model.py leads outside models/cancer-mlp/ "
        "(a symlink?); expected a file inside the model directory"]


# --- environments --------------------------------------------------------------------------------------------------

def test_environment_name_must_match_its_file(example_repo: Path) -> None:
    edit(example_repo, STAGING, "name: staging", "name: stage")
    assert found(example_repo) == [
        "environments/staging.yaml:3:7: name 'stage' does not match the file name staging.yaml; expected 'staging'"]


def test_second_root(example_repo: Path) -> None:
    env_file(example_repo, "qa")
    assert found(example_repo) == [
        "environments/qa.yaml:1:7: environment 'qa' sets no promoted_from; only 'dev' starts the promotion chain"]


def test_dev_must_be_the_root(example_repo: Path) -> None:
    edit(example_repo, DEV, "name: dev", "name: dev\npromoted_from: prod")
    assert found(example_repo) == [
        "environments/dev.yaml:6:16: 'dev' starts the promotion chain; expected no promoted_from here"]


def test_missing_dev(example_repo: Path) -> None:
    (example_repo / DEV).unlink()
    assert found(example_repo) == [
        "environments/staging.yaml:8:16: promoted_from 'dev' is not an environment; expected one of ['prod']",
        "environments:1:1: no environments/dev.yaml; expected the promotion chain to start there",
    ]


def test_branching_chain_names_both_sides(example_repo: Path) -> None:
    env_file(example_repo, "qa", "dev")
    assert found(example_repo) == [
        "environments/qa.yaml:3:16: 'staging' is also promoted from 'dev'; the promotion order must be a chain (one "
        "successor each)",
        "environments/staging.yaml:8:16: 'qa' is also promoted from 'dev'; the promotion order must be a chain (one "
        "successor each)",
    ]


def test_cycle_is_named(example_repo: Path) -> None:
    edit(example_repo, STAGING, "promoted_from: dev", "promoted_from: prod")
    assert found(example_repo) == [
        "environments/prod.yaml:8:16: promotion cycle staging → prod → staging; expected a chain starting at 'dev'",
        "environments/staging.yaml:8:16: promotion cycle prod → staging → prod; expected a chain starting at 'dev'",
    ]


def test_promoted_from_itself(example_repo: Path) -> None:
    edit(example_repo, STAGING, "promoted_from: dev", "promoted_from: staging")
    assert found(example_repo) == [
        "environments/staging.yaml:8:16: environment 'staging' is promoted from itself; expected the environment "
        "before it in the chain"]


def test_unknown_source(example_repo: Path) -> None:
    edit(example_repo, STAGING, "promoted_from: dev", "promoted_from: qa")
    assert found(example_repo) == [
        "environments/staging.yaml:8:16: promoted_from 'qa' is not an environment; expected one of ['dev', 'prod']"]


def test_invalid_source_file_does_not_cascade(example_repo: Path) -> None:
    (example_repo / STAGING).write_text("name: [\n")
    loaded = load_repository(example_repo)
    assert len(loaded.problems) == 1
    assert list(check_repository(loaded)) == []


# --- pins ----------------------------------------------------------------------------------------------------------

def test_dangling_pin_and_override(example_repo: Path) -> None:
    edit(example_repo, STAGING, "pins: {}", "pins: {ghost: v1}\noverrides: {phantom: {runtime_class_name: x}}")
    assert found(example_repo) == [
        "environments/staging.yaml:22:8: pin names model 'ghost', which does not exist; expected one of "
        "['cancer-mlp', 'digits-cnn']",
        "environments/staging.yaml:23:13: override names model 'phantom', which does not exist; expected one of "
        "['cancer-mlp', 'digits-cnn']",
    ]


def test_pins_need_records_once_records_exist(example_repo: Path, make_record: Callable[..., Path]) -> None:
    edit(example_repo, STAGING, "pins: {}", "pins: {cancer-mlp: 20250101-00000000, digits-cnn: v9}")
    assert found(example_repo) == []  # no records yet: any version is accepted
    make_record(example_repo, "cancer-mlp", "20250101-aaaaaaaa")
    assert found(example_repo) == [
        "environments/staging.yaml:22:20: pin cancer-mlp@20250101-00000000 has no version record; expected one of "
        "['20250101-aaaaaaaa']"]
    edit(example_repo, STAGING, "cancer-mlp: 20250101-00000000", "cancer-mlp: {version: 20250101-aaaaaaaa}")
    assert found(example_repo) == []


def test_policy_gates_apply_to_pinned_models(example_repo: Path) -> None:
    edit(example_repo, STAGING, "metric: accuracy", "metric: rmse")
    assert found(example_repo) == []  # nothing pinned: nothing to check the gate against
    edit(example_repo, STAGING, "pins: {}", "pins: {cancer-mlp: v1}")
    assert found(example_repo) == [
        "environments/staging.yaml:14:46: gate 'no-accuracy-regression' names metric 'rmse', which model "
        "'cancer-mlp' does not produce; expected one of ['accuracy', 'macro_f1', 'log_loss']"]


# --- records -------------------------------------------------------------------------------------------------------

def test_valid_record(example_repo: Path, make_record: Callable[..., Path]) -> None:
    make_record(example_repo)
    assert found(example_repo) == []


def test_edited_record(example_repo: Path, make_record: Callable[..., Path]) -> None:
    path = make_record(example_repo)
    path.write_text(path.read_text().replace("accuracy: 0.95", "accuracy: 0.99"))
    (problem,) = found_on_load(example_repo)
    assert problem.startswith("models/cancer-mlp/versions/20250101-aaaaaaaa.yaml:")
    assert problem.endswith(": version record was edited after it was written; records are immutable (train a new "
                            "version instead)")


def test_record_filed_under_the_wrong_model_or_name(example_repo: Path, make_record: Callable[..., Path]) -> None:
    path = make_record(example_repo, "digits-cnn", "20250101-aaaaaaaa")
    path.rename(example_repo / "models/cancer-mlp/versions/20250101-bbbbbbbb.yaml")
    problems = found_on_load(example_repo)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "record of model 'digits-cnn' is filed under models/cancer-mlp/; expected model 'cancer-mlp'",
        "version '20250101-aaaaaaaa' does not match the file name 20250101-bbbbbbbb.yaml; expected "
        "'20250101-bbbbbbbb'",
    ]


def test_record_with_values_json_cannot_hold(example_repo: Path, make_record: Callable[..., Path]) -> None:
    path = make_record(example_repo)
    path.write_text(path.read_text().replace("params:\n", "params:\n  when: 2025-01-01\n"))
    (problem,) = found_on_load(example_repo)
    assert problem.endswith("version record holds values that are not plain JSON (a date, a non-string key?); "
                            "expected the file as `mlops train` wrote it")


# --- data ----------------------------------------------------------------------------------------------------------

def test_data_path_must_be_tracked(example_repo: Path) -> None:
    edit(example_repo, MODEL, "path: data/breast-cancer/breast_cancer.csv", "path: data/nope.csv")
    assert found(example_repo) == [
        "models/cancer-mlp/model.yaml:10:9: data path 'data/nope.csv' is not in the DVC-tracked tree (data.dvc: 2 "
        "files under data/); expected a tracked file (add it, then `dvc add data`)"]


def test_data_directory_path_is_fine(example_repo: Path) -> None:
    edit(example_repo, MODEL, "path: data/breast-cancer/breast_cancer.csv", "path: data/breast-cancer")
    assert found(example_repo) == []


def test_missing_data_pointer(example_repo: Path) -> None:
    (example_repo / "data.dvc").unlink()
    assert found(example_repo) == [
        "data.dvc:1:1: missing; expected the DVC pointer for data/ (run scripts/materialize_data.py)"]


def test_manifest_in_neither_cache_nor_remote(example_repo: Path) -> None:
    import shutil

    shutil.rmtree(example_repo / ".dvc/cache")
    (example_repo / ".dvc/config").write_text("[core]\n    remote = none\n")
    (problem,) = found(example_repo)
    assert problem.startswith("data.dvc:2:8: DVC manifest da399c5958ea72e7011f9ec8b3fa1f5a.dir is in neither the "
                              "cache nor the default remote")
