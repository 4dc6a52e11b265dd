"""`mlops train` end to end on CPU, in a real git + DVC copy of the example repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlops.adapters.artifacts.dvc import DvcStore
from mlops.adapters.artifacts.loader import load_verified
from mlops.core import metrics
from mlops.core.repo import load_repository
from tests.conftest import Result, run_cli
from tests.helpers.git import git

GITIGNORE = "/data/\n/.mlops/\n__pycache__/\n"



def dvc(repo: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture(name="repo")
def repo_fixture(example_repo: Path) -> Path:
    """The example repository as a git repository with one commit (data not checked out yet)."""
    (example_repo / ".gitignore").write_text(GITIGNORE)
    git(example_repo, "init", "-q", "-b", "main")
    git(example_repo, "add", "-A")
    git(example_repo, "commit", "-qm", "base")
    return example_repo


def train(repo: Path, model: str, *args: str, env: dict[str, str] | None = None) -> Result:
    """``mlops train`` on CPU with one thread (several threads on a shared, loaded machine spin for nothing)."""
    return run_cli("train", model, "--repo", str(repo), "--device", "cpu", "--threads", "1", *args,
                   env={**os.environ, "CI": "true", **(env or {})})


def versions(repo: Path, model: str) -> list[str]:
    return sorted(p.name for p in (repo / "models" / model / "versions").iterdir() if p.name != ".gitkeep")


@pytest.mark.parametrize("model", ["digits-cnn", "cancer-mlp"])
def test_example_models_train_record_and_load(repo: Path, model: str) -> None:
    result = train(repo, model, "--epochs", "2", "--no-push", "--json")
    assert result.code == 0, result.err
    out = json.loads(result.out)
    version = out["version"]
    assert out["created"] and out["digest"].startswith("sha256:") and version.endswith(out["digest"][7:15])
    assert "epoch 2:" in result.err and "Traceback" not in result.err
    assert versions(repo, model) == [".gitignore", version, f"{version}.dvc", f"{version}.md", f"{version}.yaml"]
    assert run_cli("validate", "--repo", str(repo)).code == 0

    record = load_repository(repo).records[model][version].spec
    assert record.metrics == out["metrics"] and record.training["epochs"] == 2
    assert record.artifact.uri == f"dvc://models/{model}/versions/{version}"
    assert record.code.commit == git(repo, "rev-parse", "HEAD").strip()
    assert record.environment.device == "cpu" and record.environment.deterministic
    assert len(record.history["train_loss"]) == 2 and len(record.history["val_accuracy"]) == 2
    directory = DvcStore(repo, push=False).fetch(model, version, record)
    predictor = load_verified(directory, record)
    saved = json.loads((directory / "metrics.json").read_text())
    assert saved["metrics"] == record.metrics and saved["data"]["md5"] == record.data.md5

    # the artifact alone reproduces the recorded test metrics (features in signature order, raw values)
    from mlops.train.data import load_table

    loaded = load_repository(repo).models[model]
    table = load_table(repo / loaded.spec.data.path, loaded.spec, loaded.doc)
    x, y = table.part("test")
    assert metrics.accuracy(y, predictor.predict(x)) == pytest.approx(record.metrics["accuracy"])
    assert predictor.signature.features == tuple(loaded.spec.data.features)
    zeros = predictor.predict(np.zeros((3, len(table.features)), np.float32))
    assert zeros.shape == (3, len(table.classes)) and np.isfinite(zeros).all()


def test_push_stores_the_artifact_in_the_dvc_remote(repo: Path) -> None:
    result = train(repo, "cancer-mlp", "--epochs", "1", "--json")
    assert result.code == 0, result.err
    version = json.loads(result.out)["version"]
    record = load_repository(repo).records["cancer-mlp"][version].spec
    # lose the local copy and the cache: the remote alone brings it back, verified
    shutil.rmtree(repo / "models/cancer-mlp/versions" / version)
    shutil.rmtree(repo / ".dvc/cache")
    directory = DvcStore(repo).fetch("cancer-mlp", version, record)
    assert load_verified(directory, record).version == version


def test_same_inputs_again_records_nothing_new(repo: Path) -> None:
    first = train(repo, "cancer-mlp", "--epochs", "1", "--no-push", "--json")
    assert first.code == 0, first.err
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "record")
    before = versions(repo, "cancer-mlp")
    again = train(repo, "cancer-mlp", "--epochs", "1", "--no-push")
    assert again.code == 0, again.err
    assert "already recorded" in again.out and versions(repo, "cancer-mlp") == before


def _edit(repo: Path, model: str, old: str, new: str) -> None:
    path = repo / "models" / model / "model.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _bad_csv(repo: Path, change: str) -> None:
    """Write data/bad/cancer.csv (a changed copy of the cancer data), track it with DVC, point the spec at it."""
    dvc(repo, "pull", "-q", "data.dvc")
    lines = (repo / "data/breast-cancer/breast_cancer.csv").read_text().splitlines()
    cells = lines[10].split(",")
    cells[2] = change
    lines[10] = ",".join(cells)
    (repo / "data/bad").mkdir()
    (repo / "data/bad/cancer.csv").write_text("\n".join(lines) + "\n")
    dvc(repo, "add", "-q", "data")
    _edit(repo, "cancer-mlp", "data/breast-cancer/breast_cancer.csv", "data/bad/cancer.csv")


@pytest.mark.parametrize(("case", "expected"), [
    ("missing-column", "models/cancer-mlp/model.yaml:16:5: column 'mean_texturz' is not in "
                       "data/breast-cancer/breast_cancer.csv"),
    ("non-numeric", "models/cancer-mlp/model.yaml:17:21: data/bad/cancer.csv line 11: column 'mean_perimeter' "
                    "has 'twelve', which is not a number; expected float64"),
    ("nan", "models/cancer-mlp/model.yaml:17:21: data/bad/cancer.csv line 11: column 'mean_perimeter' is empty, "
            "NaN or infinite"),
    ("empty-split", "models/cancer-mlp/model.yaml:12:17: the test split of data/breast-cancer/breast_cancer.csv "
                    "is empty"),
    ("changed-data", "models/cancer-mlp/model.yaml:10:9: data/breast-cancer/breast_cancer.csv differs from the "
                     "data version data.dvc records"),
])
def test_data_errors_are_clear_and_write_nothing(repo: Path, case: str, expected: str) -> None:
    if case == "missing-column":
        _edit(repo, "cancer-mlp", "mean_texture: float64", "mean_texturz: float64")  # not one the slices read
    elif case == "non-numeric":
        _bad_csv(repo, "twelve")
    elif case == "nan":
        _bad_csv(repo, "nan")
    elif case == "empty-split":
        _edit(repo, "cancer-mlp", "{test: 0.25,", "{test: 0.000001,")
    else:
        dvc(repo, "pull", "-q", "data.dvc")
        with (repo / "data/breast-cancer/breast_cancer.csv").open("a") as fh:
            fh.write("1," * 30 + "1\n")
    before = versions(repo, "cancer-mlp")
    result = train(repo, "cancer-mlp", "--epochs", "1", "--no-push")
    assert result.code == 1
    assert result.err.startswith(expected), result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1
    assert versions(repo, "cancer-mlp") == before
    assert not (repo / ".mlops/runs").exists()


def test_github_annotation_for_a_data_error(repo: Path) -> None:
    _edit(repo, "cancer-mlp", "mean_texture: float64", "mean_texturz: float64")  # the slices read mean_radius
    result = train(repo, "cancer-mlp", "--no-push", env={"GITHUB_ACTIONS": "true"})
    assert result.code == 1
    assert "::error file=models/cancer-mlp/model.yaml,line=16,col=5::column 'mean_texturz'" in result.out


def test_kubernetes_backend_submits_through_the_cluster_seam(repo: Path) -> None:
    """Without an image there is nothing to run on a cluster: a usage error, before any cluster is contacted."""
    result = run_cli("train", "cancer-mlp", "--repo", str(repo), "--backend", "kubernetes",
                     env={k: v for k, v in os.environ.items() if k != "MLOPS_TRAINING_IMAGE"})
    assert result.code == 2 and "--image is required" in result.err and "Traceback" not in result.err


def test_unknown_model_and_bad_epochs(repo: Path) -> None:
    result = run_cli("train", "nope", "--repo", str(repo))
    assert result.code == 1 and "no model named 'nope'" in result.err
    assert run_cli("train", "cancer-mlp", "--repo", str(repo), "--epochs", "0").code == 2


REGRESSION_SPEC = """\
apiVersion: mlops/v1
kind: Model
name: toy-reg
description: A linear regression on a synthetic table.
owners: [alice]
task: regression
data:
  path: data/toy/reg.csv
  label: y
  split: {test: 0.2, validation: 0.1, seed: 1}
  features: {a: float32, b: int64, c: bool}
training: {epochs: 3, batch_size: 16, seed: 4, optimizer: {name: sgd, lr: 0.05, momentum: 0.9}}
evaluation:
  metrics: [rmse, mae, r2]
  gates: [{name: fit, metric: r2, min: 0.5}]
serving:
  input: {shape: [3]}
"""
REGRESSION_PY = '''"""A linear model."""
from torch import nn


def build(params, n_features, n_outputs):
    return nn.Linear(n_features, n_outputs)
'''


def test_a_regression_model(repo: Path) -> None:
    rng = np.random.default_rng(0)
    rows = ["a,b,c,y"]
    for _ in range(200):
        a, b, c = rng.normal(), int(rng.integers(0, 5)), bool(rng.integers(0, 2))
        rows.append(f"{a:.6f},{b},{str(c).lower()},{2 * a - b + 3 * c + rng.normal(scale=0.1):.6f}")
    dvc(repo, "pull", "-q", "data.dvc")
    (repo / "data/toy").mkdir()
    (repo / "data/toy/reg.csv").write_text("\n".join(rows) + "\n")
    dvc(repo, "add", "-q", "data")
    (repo / "models/toy-reg/versions").mkdir(parents=True)
    (repo / "models/toy-reg/model.yaml").write_text(REGRESSION_SPEC)
    (repo / "models/toy-reg/model.py").write_text(REGRESSION_PY)
    result = train(repo, "toy-reg", "--no-push", "--json")
    assert result.code == 0, result.err
    out = json.loads(result.out)
    assert set(out["metrics"]) == {"rmse", "mae", "r2"} and out["metrics"]["r2"] > 0.5
    record = load_repository(repo).records["toy-reg"][out["version"]].spec
    predictor = load_verified(repo / "models/toy-reg/versions" / out["version"], record)
    assert predictor.signature.task == "regression" and predictor.signature.classes == ()
    assert predictor.predict(np.array([[1.0, 2.0, 1.0]], np.float32)).shape == (1, 1)
    assert set(record.history) == {"train_loss", "val_loss"}
