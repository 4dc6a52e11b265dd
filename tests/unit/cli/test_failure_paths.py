"""A hostile user's tour of the verbs' failure paths: one line, the right exit code, no traceback, no writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.cli import VERBS, main
from mlops.core.spec.record import record_digest

VERSION = "20250101-aaaaaaaa"


@pytest.fixture(autouse=True)
def outside_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def write_record(repo: Path, model: str = "cancer-mlp", **changes: Any) -> Path:
    """A version record as `mlops train` writes it (the artifact itself is not needed to be refused)."""
    digest = "sha256:" + "a" * 64
    data = {"path": "data", "md5": "da399c5958ea72e7011f9ec8b3fa1f5a.dir", "rows": {"train": 100}}
    body: dict[str, Any] = {
        "apiVersion": "mlops/v1", "kind": "VersionRecord", "model": model, "version": VERSION,
        "created": "2025-01-01T00:00:00Z", "parent": None,
        "artifact": {"digest": digest, "uri": f"dvc://models/{model}/versions/{VERSION}",
                     "files": {"program.pt2": digest}, "format": "torch.export-pt2"},
        "data": data, "code": {"commit": "0" * 40, "dirty": False, "model_py_sha256": digest},
        "params": {}, "training": {"epochs": 1}, "seed": 1, "metrics": {"accuracy": 0.95},
        "evaluation_data": data, "history": {},
        "environment": {"python": "3.11.7", "torch": "2.13.0", "cuda": None, "mlops": "0.1.0", "device": "cpu",
                        "cpu": "x86_64", "gpu": None, "runner": "local"},
        "duration_s": 1.0, **changes,
    }
    body["record_digest"] = record_digest(body)
    path = repo / "models" / model / "versions" / f"{VERSION}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path


# --- outside a repository ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["validate"], ["render", "--env", "dev"], ["render", "--check", "deploy"], ["diff", "--base", "HEAD"],
    ["new", "model", "foo"], ["train", "digits-cnn"], ["evaluate", "digits-cnn", "--against", "dev"],
    ["report"], ["reproduce", "digits-cnn@x"], ["serve", "digits-cnn@x"], ["build-image", "digits-cnn@x"],
    ["labels", "ingest", "labels.csv", "--model", "digits-cnn"],
])
def test_every_verb_outside_a_repository(argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert one_line(capsys) == (f"mlops: error: {tmp_path.resolve()} is not inside an mlops repository (no models/ "
                                "or environments/ here or above); expected to run in one, or --repo DIR")
    assert list(tmp_path.iterdir()) == []


# --- version records: an edited record is never trained from, served or reproduced --------------------------------

def test_serve_refuses_an_edited_record(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_record(example_repo)
    path.write_text(path.read_text().replace("accuracy: 0.95", "accuracy: 0.99"))
    assert main(["serve", f"cancer-mlp@{VERSION}", "--repo", str(example_repo), "--port", "0"]) == 1
    line = one_line(capsys)
    assert line.startswith(f"models/cancer-mlp/versions/{VERSION}.yaml:")
    assert line.endswith(": version record was edited after it was written; records are immutable (train a new "
                         "version instead)")


def test_serve_image_mode_refuses_an_edited_record(example_repo: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = write_record(example_repo)
    path.write_text(path.read_text().replace("seed: 1", "seed: 2"))
    assert main(["serve", "--artifact", str(tmp_path), "--record", str(path), "--port", "0"]) == 1
    assert one_line(capsys).endswith(": version record was edited after it was written; records are immutable "
                                     "(train a new version instead)")


def test_reproduce_refuses_an_edited_record(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_record(example_repo)
    path.write_text(path.read_text().replace("accuracy: 0.95", "accuracy: 0.99"))
    assert main(["reproduce", f"cancer-mlp@{VERSION}", "--repo", str(example_repo)]) == 1
    assert "version record was edited after it was written" in one_line(capsys)
    assert sorted(p.name for p in path.parent.iterdir()) == [".gitkeep", path.name]  # nothing trained or written


# --- writes that the file system refuses ---------------------------------------------------------------------------

def test_render_out_onto_a_file(example_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "plain"
    blocker.write_text("mine")
    assert main(["render", "--env", "dev", "--repo", str(example_repo), "--out", str(blocker)]) == 1
    assert one_line(capsys) == (f"{blocker}/dev:1:1: cannot write: {blocker} is a file, not a directory; expected "
                                "a writable location")
    assert blocker.read_text() == "mine"


def test_render_check_of_a_missing_directory(example_repo: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "deploy"
    assert main(["render", "--repo", str(example_repo), "--check", str(missing)]) == 1
    assert one_line(capsys) == (f"{missing}:1:1: does not exist; expected the committed manifests (write them with "
                                f"`mlops render --out {missing}`)")
    assert not missing.exists()


# --- every verb's --help shows an example --------------------------------------------------------------------------

@pytest.mark.parametrize("verb", sorted(VERBS))
def test_help_shows_an_example(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([verb, "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out
    assert f"\n  mlops {verb} " in out


# --- unknown names: sorted names to choose from, or what to do when there are none -------------------------------

NO_MODEL = "models:1:1: no model named 'nope'; expected one of cancer-mlp, digits-cnn"
NO_ENV = "environments:1:1: no environment named 'qa'; expected one of dev, prod, staging"
NO_VERSION = ("models/digits-cnn/versions:1:1: no version '20250101-00000000' of model 'digits-cnn'; "
              "digits-cnn has no version records yet (train one: `mlops train digits-cnn`)")


@pytest.mark.parametrize(("args", "expected"), [
    (["train", "nope"], NO_MODEL),
    (["evaluate", "nope", "--against", "dev"], NO_MODEL),
    (["render", "--model", "nope"], NO_MODEL),
    (["serve", "nope@20250101-00000000"], NO_MODEL),
    (["build-image", "nope@20250101-00000000", "--context-only", "ctx"], NO_MODEL),
    (["reproduce", "nope@20250101-00000000"], NO_MODEL),
    (["render", "--env", "qa"], NO_ENV),
    (["evaluate", "digits-cnn", "--against", "qa"], NO_ENV),
    (["reproduce", "digits-cnn@20250101-00000000"], NO_VERSION),
    (["serve", "digits-cnn@20250101-00000000"], NO_VERSION),
    (["build-image", "digits-cnn@20250101-00000000", "--context-only", "ctx"], NO_VERSION),
    (["evaluate", "digits-cnn", "--against", "dev", "--candidate", "20250101-00000000"], NO_VERSION),
])
def test_unknown_names_have_one_wording_and_exit_1_in_every_verb(
        example_repo: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str) -> None:
    assert main([*args, "--repo", str(example_repo)]) == 1
    assert one_line(capsys) == expected
