"""`mlops new model NAME`: a model directory that validates as is, or nothing at all."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops.cli import main
from mlops.core.errors import UserError
from mlops.validate import scaffold
from mlops.validate.scaffold import NewModel, yaml_str
from tests.conftest import run_cli

MANIFEST = ".dvc/cache/files/md5/da/399c5958ea72e7011f9ec8b3fa1f5a.dir"


@pytest.fixture(autouse=True)
def quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("GITHUB_ACTOR", "octo-user")


def snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))}


def add_tracked_csv(repo: Path, relpath: str, content: bytes) -> str:
    """Track one more CSV: its content in data/ and an entry in DVC's .dir manifest (DVC never re-hashes here)."""
    manifest = repo / MANIFEST
    entries = json.loads(manifest.read_text())
    entries.append({"md5": hashlib.md5(content).hexdigest(), "relpath": relpath})
    manifest.write_text(json.dumps(entries))
    target = repo / "data" / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return f"data/{relpath}"


def validate_ok(repo: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["validate", "--repo", str(repo)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def new_model(repo: Path, *args: str) -> int:
    return main(["new", "model", *args, "--repo", str(repo)])


def test_default_scaffold_validates_as_is(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert new_model(example_repo, "my-model") == 0
    assert capsys.readouterr().out.startswith("created models/my-model/: model.yaml, model.py, README.md, versions/")
    made = example_repo / "models/my-model"
    assert sorted(p.relative_to(made).as_posix() for p in made.rglob("*")) == [
        "README.md", "model.py", "model.yaml", "versions", "versions/.gitkeep"]
    assert validate_ok(example_repo, capsys).startswith("ok: 3 models")
    spec = yaml.safe_load((made / "model.yaml").read_text())
    assert spec["name"] == "my-model" and spec["owners"] == ["octo-user"] and spec["task"] == "classification"
    assert spec["data"]["path"] == "data/breast-cancer/breast_cancer.csv" and spec["data"]["label"] == "malignant"
    assert list(spec["data"]["features"])[:2] == ["mean_radius", "mean_texture"]
    assert len(spec["data"]["features"]) == 30 and spec["serving"]["input"]["shape"] == [30]
    assert spec["evaluation"]["metrics"] == ["accuracy", "macro_f1", "log_loss"]
    card = (made / "README.md").read_text()
    assert card.startswith("# my-model — model card") and "## Intended use" in card and "`malignant`" in card


def test_regression_on_other_data(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert new_model(example_repo, "digit-value", "--task", "regression", "--data", "data/digits/digits.csv") == 0
    validate_ok(example_repo, capsys)
    spec = yaml.safe_load((example_repo / "models/digit-value/model.yaml").read_text())
    assert spec["data"]["label"] == "digit"  # the last column
    assert len(spec["data"]["features"]) == 64 and "digit" not in spec["data"]["features"]
    assert spec["evaluation"]["metrics"] == ["rmse", "mae", "r2"]
    assert spec["monitoring"]["performance"]["metric"] == "r2"
    assert "``[batch, 1]``: the predicted value." in (example_repo / "models/digit-value/model.py").read_text()


def test_label_option_and_owners(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert new_model(example_repo, "radius", "--label", "mean_radius", "--owner", "alice", "--owner", "org/team",
                     "--description", 'Predicts: "radius"') == 0
    validate_ok(example_repo, capsys)
    spec = yaml.safe_load((example_repo / "models/radius/model.yaml").read_text())
    assert spec["data"]["label"] == "mean_radius"
    assert "mean_radius" not in spec["data"]["features"] and "malignant" in spec["data"]["features"]
    assert spec["owners"] == ["alice", "org/team"]
    assert spec["description"] == 'Predicts: "radius"'


def test_odd_column_names_round_trip(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header = ["a: b", "on", "1", "x y", "#hash", "ünï", "null", "target"]
    rows = ",".join(f'"{h}"' for h in header) + "\n" + ",".join(["1", "2.5", "-3", "4e2", "5", "6", "7", "1"]) + "\n"
    data = add_tracked_csv(example_repo, "odd/odd.csv", rows.encode())
    assert new_model(example_repo, "odd", "--data", data) == 0
    validate_ok(example_repo, capsys)
    spec = yaml.safe_load((example_repo / "models/odd/model.yaml").read_text())
    assert list(spec["data"]["features"]) == header[:-1]
    assert spec["data"]["features"] == {"a: b": "int64", "on": "float64", "1": "int64", "x y": "float64",
                                        "#hash": "int64", "ünï": "int64", "null": "int64"}


@pytest.mark.parametrize(("content", "expected"), [
    (b"a,b,label\n1,x,0\n", "data/bad/bad.csv:2:1: column 'b' holds 'x'; expected numeric feature columns"),
    (b"a,a,label\n1,2,0\n", "data/bad/bad.csv:1:1: column 'a' appears twice in the header; expected unique names"),
    (b"a,,label\n1,2,0\n", "data/bad/bad.csv:1:1: column 2 of the header has no name; expected named columns"),
    (b"", "data/bad/bad.csv:1:1: no CSV header; expected a header row naming the columns"),
    (b"label\n1\n", "data/bad/bad.csv:1:1: no feature columns besides the label 'label'; expected at least one"),
    (b"a,label\n1,0\n\xff,1\n", "data/bad/bad.csv:3:1: not valid UTF-8; expected a UTF-8 CSV file"),
])
def test_unusable_data_is_refused(example_repo: Path, capsys: pytest.CaptureFixture[str], content: bytes,
                                  expected: str) -> None:
    data = add_tracked_csv(example_repo, "bad/bad.csv", content)
    before = snapshot(example_repo)
    assert new_model(example_repo, "x", "--data", data) == 1
    assert capsys.readouterr().err.startswith(expected)
    assert snapshot(example_repo) == before


@pytest.mark.parametrize(("args", "expected"), [
    (["Bad-Name"], "models:1:1: model name 'Bad-Name' is not a DNS-1123 label"),
    (["../etc"], "models:1:1: model name '../etc' is not a DNS-1123 label"),
    (["a" * 64], "models:1:1: model name 'aaaa"),
    (["-x"], None),  # argparse reads it as an option: a usage error (exit 2), checked below
    (["cancer-mlp"], "models/cancer-mlp:1:1: already exists; expected a new model name"),
    (["x", "--data", "data/nope.csv"], "data/nope.csv:1:1: --data: not a file in the DVC-tracked tree (data.dvc)"),
    (["x", "--data", "data/digits"], "data/digits:1:1: --data: not a file in the DVC-tracked tree"),
    (["x", "--label", "nope"], "data/breast-cancer/breast_cancer.csv:1:1: --label: no column 'nope' in the header"),
    (["x", "--owner", "a b"], "models:1:1: --owner 'a b' is not a GitHub user or 'org/team'"),
])
def test_refusals_write_nothing(example_repo: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                expected: str | None) -> None:
    before = snapshot(example_repo)
    code = new_model(example_repo, *args)
    err = capsys.readouterr().err
    if expected is None:
        assert code == 2
    else:
        assert code == 1
        assert err.startswith(expected), err
        assert len(err.splitlines()) == 1
    assert snapshot(example_repo) == before


def test_existing_file_of_that_name(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (example_repo / "models/notes").write_text("x")
    assert new_model(example_repo, "notes") == 1
    assert capsys.readouterr().err.startswith("models/notes:1:1: already exists")


def test_failure_midway_leaves_nothing(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(example_repo)

    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "rename", broken)
    with pytest.raises(OSError, match="disk full"):
        scaffold.scaffold(example_repo, NewModel(name="my-model"))
    assert snapshot(example_repo) == before  # no models/my-model, no staging directory left


def test_a_template_bug_is_caught_before_anything_is_written(example_repo: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    real = scaffold.render

    def bad_render(*args: object, **kwargs: object) -> dict[str, str]:
        files = real(*args, **kwargs)  # type: ignore[arg-type]
        files["model.py"] = "def make():\n    pass\n"
        return files

    monkeypatch.setattr(scaffold, "render", bad_render)
    before = snapshot(example_repo)
    with pytest.raises(UserError) as info:
        scaffold.scaffold(example_repo, NewModel(name="my-model"))
    assert str(info.value.problems[0]).startswith("models/my-model/model.py:1:1: scaffold does not validate: "
                                                  "missing function build(")
    assert snapshot(example_repo) == before


def test_data_read_from_the_remote_when_not_cached(example_repo: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    remote = tmp_path / "remote"
    shutil.move(example_repo / ".dvc/cache", remote)
    (example_repo / ".dvc/config").write_text(f"[core]\n    remote = r\n['remote \"r\"']\n    url = {remote}\n")
    assert new_model(example_repo, "from-remote") == 0
    validate_ok(example_repo, capsys)


def test_data_nowhere_to_read(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    objects = example_repo / ".dvc/cache/files/md5"
    for obj in objects.rglob("*"):
        if obj.is_file() and not obj.name.endswith(".dir"):
            obj.unlink()
    assert new_model(example_repo, "x") == 1
    assert "--data: tracked but neither in data/ nor in DVC's cache or default remote" in capsys.readouterr().err


def test_default_owners(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert scaffold.default_owners(example_repo) == ["octo-user"]
    monkeypatch.delenv("GITHUB_ACTOR")
    monkeypatch.setenv("USER", "alice")
    assert scaffold.default_owners(example_repo) == ["alice"]
    monkeypatch.setenv("USER", "not a login")
    assert scaffold.default_owners(example_repo) == ["ml-platform/maintainers"]  # dev's approvers
    (example_repo / "environments/dev.yaml").write_text("name: dev\ntarget: local\n")
    with pytest.raises(UserError, match="expected --owner GITHUB_USER"):
        scaffold.default_owners(example_repo)


@pytest.mark.parametrize("value", ["plain", "on", "No", "null", "1", "1e3", "0x1f", "a: b", "#x", "-x", "ü",
                                   'q"uote', "back\\slash", "new\nline", "true", "~", "a/b", " lead"])
def test_yaml_str_round_trips(value: str) -> None:
    assert yaml.safe_load(f"k: {yaml_str(value)}\n") == {"k": value}


def test_generated_model_py_is_clean_and_builds_a_network(example_repo: Path) -> None:
    assert new_model(example_repo, "my-model") == 0
    code = example_repo / "models/my-model/model.py"
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--line-length", "120",
                           "--select", "E,F,W,I,UP,B", str(code)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    torch = pytest.importorskip("torch", reason="torch is needed to run the generated network")
    spec = importlib.util.spec_from_file_location("scaffolded_model", code)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = module.build({"hidden": [16, 8], "dropout": 0.0}, 30, 2)
    assert net(torch.zeros(5, 30)).shape == (5, 2)


def test_end_to_end_new_then_validate(example_repo: Path) -> None:
    made = run_cli("new", "model", "e2e-model", "--repo", str(example_repo))
    assert made.code == 0, made.err
    checked = run_cli("validate", "--repo", str(example_repo))
    assert checked.code == 0, checked.err
    assert checked.out.startswith("ok: 3 models")
    again = run_cli("new", "model", "e2e-model", "--repo", str(example_repo))
    assert again.code == 1 and "Traceback" not in again.err
    assert again.err == "models/e2e-model:1:1: already exists; expected a new model name (edit the existing model " \
                        "instead)\n"


def test_usage_errors_exit_2(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "thing", "x", "--repo", str(example_repo)]) == 2
    assert main(["new", "model", "--repo", str(example_repo)]) == 2
    assert main(["new", "model", "x", "--task", "clustering", "--repo", str(example_repo)]) == 2
    assert "usage: mlops new" in capsys.readouterr().err
