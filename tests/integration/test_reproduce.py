"""`mlops reproduce MODEL@VERSION`: the same inputs give the same digest on CPU; changed inputs are listed;
a tampered artifact is refused."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from mlops.adapters.artifacts.dvc import DvcStore
from mlops.adapters.artifacts.loader import load_verified
from mlops.core.errors import UserError
from mlops.core.repo import load_repository
from mlops.core.spec.record import VersionRecord
from tests.conftest import Result, run_cli
from tests.integration.test_train_cli import dvc, git, repo_fixture, train  # noqa: F401 - the repo fixture


@pytest.fixture
def trained(repo: Path) -> tuple[Path, VersionRecord]:
    """cancer-mlp trained for 2 epochs, its record and pointer committed."""
    result = train(repo, "cancer-mlp", "--epochs", "2", "--no-push", "--json")
    assert result.code == 0, result.err
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "record cancer-mlp")
    version = json.loads(result.out)["version"]
    return repo, load_repository(repo).records["cancer-mlp"][version].spec


def reproduce(repo: Path, target: str, *args: str) -> Result:
    return run_cli("reproduce", target, "--repo", str(repo), *args, env={**os.environ, "CI": "true"})


def test_reproduce_gives_the_same_digest(trained: tuple[Path, VersionRecord]) -> None:
    repo, record = trained
    result = reproduce(repo, f"cancer-mlp@{record.version}", "--json")
    assert result.code == 0, result.err
    out = json.loads(result.out)
    assert out["identical"] and out["actual_digest"] == record.artifact.digest
    assert out["metrics"] == record.metrics
    # the record's settings win over model.yaml's: the spec now says 30 epochs, the record 2
    assert "epochs: 30" in (repo / "models/cancer-mlp/model.yaml").read_text()
    assert not (repo / ".mlops/runs/cancer-mlp").exists() or not any((repo / ".mlops/runs/cancer-mlp").iterdir())


def test_changed_inputs_are_listed_when_the_digest_differs(trained: tuple[Path, VersionRecord]) -> None:
    repo, record = trained
    csv = repo / "data/breast-cancer/breast_cancer.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([lines[0], *lines[1:][::-1]]) + "\n")  # same rows, another order
    dvc(repo, "add", "-q", "data")
    model_py = repo / "models/cancer-mlp/model.py"
    model_py.write_text(model_py.read_text() + "\n# a comment\n")
    result = reproduce(repo, f"cancer-mlp@{record.version}")
    assert result.code == 1
    err = result.err
    assert f"cancer-mlp@{record.version} did not reproduce: recorded {record.artifact.digest}" in err
    assert f"data version (data.dvc md5): recorded {record.data.md5}, now " in err
    assert f"model.py sha256: recorded {record.code.model_py_sha256}" in err
    assert "artifact files that differ:" in err and "program.pt2" in err and "Traceback" not in err


def test_tampered_artifact_is_refused(trained: tuple[Path, VersionRecord]) -> None:
    repo, record = trained
    directory = repo / "models/cancer-mlp/versions" / record.version
    program = directory / "program.pt2"
    data = bytearray(program.read_bytes())
    data[len(data) // 2] ^= 0xFF
    program.chmod(0o644)
    program.write_bytes(bytes(data))
    with pytest.raises(UserError, match="refusing to load"):
        load_verified(directory, record)
    # the DVC store restores the recorded content from DVC's cache, and verifies it
    fetched = DvcStore(repo, push=False).fetch("cancer-mlp", record.version, record)
    assert load_verified(fetched, record).version == record.version
    # with the cache gone too, nothing trustworthy is left: refused, never loaded
    program.chmod(0o644)
    program.write_bytes(bytes(data))
    shutil.rmtree(repo / ".dvc/cache")
    shutil.rmtree(repo / ".mlops/dvc-remote", ignore_errors=True)
    with pytest.raises(UserError):
        DvcStore(repo, push=False).fetch("cancer-mlp", record.version, record)


@pytest.mark.parametrize(("target", "code", "message"), [
    ("cancer-mlp", 2, "is not MODEL@VERSION"),  # a malformed argument is a usage error
    ("nope@20250101-00000000", 1, "no model named 'nope'"),
    ("cancer-mlp@20250101-00000000", 1, "no version '20250101-00000000' of model 'cancer-mlp'"),
])
def test_bad_targets(repo: Path, target: str, code: int, message: str) -> None:
    result = reproduce(repo, target)
    assert result.code == code and message in result.err and "Traceback" not in result.err
