"""DVC's own metadata is read, never re-hashed: data.dvc, the .dir manifest, the default remote."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlops.core import dvcmeta
from mlops.core.errors import UserError

MD5 = "da399c5958ea72e7011f9ec8b3fa1f5a.dir"


def error(repo: Path) -> str:
    with pytest.raises(UserError) as info:
        dvcmeta.tracked_tree(repo)
    (problem,) = info.value.problems
    return str(problem)


def test_tracked_tree_from_the_cache(example_repo: Path) -> None:
    tree = dvcmeta.tracked_tree(example_repo)
    assert tree.out == "data" and tree.md5 == MD5 and tree.dvc_file == "data.dvc"
    assert tree.files == {"data/digits/digits.csv", "data/breast-cancer/breast_cancer.csv"}


def test_tracked_tree_from_the_default_remote(example_repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    shutil.move(example_repo / ".dvc/cache", remote)
    (example_repo / ".dvc/config").write_text(f"[core]\n    remote = r\n['remote \"r\"']\n    url = {remote}\n")
    assert dvcmeta.default_remote(example_repo) == remote
    assert len(dvcmeta.tracked_tree(example_repo).files) == 2


def test_default_remote(example_repo: Path) -> None:
    remote = dvcmeta.default_remote(example_repo)
    assert remote == (example_repo / ".mlops/dvc-remote").resolve()
    (example_repo / ".dvc/config.local").write_text("[core]\n    remote = cloud\n['remote \"cloud\"']\n"
                                                    "    url = s3://bucket/x\n")
    assert dvcmeta.default_remote(example_repo) is None  # not a local directory
    (example_repo / ".dvc/config.local").unlink()
    (example_repo / ".dvc/config").write_text("[core]\n    autostage = false\n")
    assert dvcmeta.default_remote(example_repo) is None


def test_unparsable_config_is_a_problem(example_repo: Path) -> None:
    (example_repo / ".dvc/config").write_text("remote = x\n")
    with pytest.raises(UserError) as info:
        dvcmeta.default_remote(example_repo)
    assert str(info.value.problems[0]) == (".dvc/config:1:1: cannot parse DVC's config (MissingSectionHeaderError); "
                                           "expected the INI format `dvc config` writes")


def test_single_file_output(example_repo: Path) -> None:
    (example_repo / "data.dvc").write_text("outs:\n- md5: 0123abcd\n  path: data/x.csv\n")
    tree = dvcmeta.tracked_tree(example_repo)
    assert tree.files == {"data/x.csv"}
    assert dvcmeta.contains(tree, "data/x.csv") and not dvcmeta.contains(tree, "data/y.csv")


@pytest.mark.parametrize(("text", "expected"), [
    ("outs: []\n", "data.dvc:1:7: expected 'outs' with one tracked directory (run `dvc add data`)"),
    ("meta: 1\n", "data.dvc:1:1: expected 'outs' with one tracked directory (run `dvc add data`)"),
    ("outs:\n- path: data\n", "data.dvc:2:3: expected 'md5' and 'path' in the tracked output"),
    ("outs: [\n", "data.dvc:2:1: YAML syntax error: did not find expected node content"),
])
def test_bad_pointer(example_repo: Path, text: str, expected: str) -> None:
    (example_repo / "data.dvc").write_text(text)
    assert error(example_repo) == expected


@pytest.mark.parametrize("content", ["not json", json.dumps({"relpath": "x"}), json.dumps([{"md5": "1"}])])
def test_corrupt_manifest_is_a_problem(example_repo: Path, content: str) -> None:
    manifest = example_repo / ".dvc/cache/files/md5" / MD5[:2] / MD5[2:]
    manifest.write_text(content)
    assert error(example_repo) == (
        f"data.dvc:2:8: DVC manifest .dvc/cache/files/md5/{MD5[:2]}/{MD5[2:]} is corrupt (not a list of relpath "
        "entries); expected DVC's .dir JSON (repair it with `dvc pull --force`)")


def test_contains_files_and_directories() -> None:
    tree = dvcmeta.TrackedTree("data", "x.dir", frozenset({"data/a/b.csv", "data/c.csv"}), "data.dvc")
    assert dvcmeta.contains(tree, "data/a/b.csv")
    assert dvcmeta.contains(tree, "data/a") and dvcmeta.contains(tree, "data/a/")
    assert dvcmeta.contains(tree, "data")
    assert not dvcmeta.contains(tree, "data/ab")
    assert not dvcmeta.contains(tree, "data/a/b")


def test_locate_prefers_the_workspace_then_the_cache(example_repo: Path) -> None:
    tree = dvcmeta.tracked_tree(example_repo)
    cached = dvcmeta.locate(example_repo, tree, "data/digits/digits.csv")
    assert cached is not None and cached.is_relative_to(example_repo / ".dvc/cache")
    assert cached.read_text().startswith("pixel_0,")
    workspace = example_repo / "data/digits/digits.csv"
    workspace.parent.mkdir(parents=True)
    workspace.write_text("a,b\n")
    assert dvcmeta.locate(example_repo, tree, "data/digits/digits.csv") == workspace
    assert dvcmeta.locate(example_repo, tree, "data/nope.csv") is None


def test_locate_falls_back_to_the_remote(example_repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    shutil.copytree(example_repo / ".dvc/cache", remote)
    (example_repo / ".dvc/config").write_text(f"[core]\n    remote = r\n['remote \"r\"']\n    url = {remote}\n")
    tree = dvcmeta.tracked_tree(example_repo)
    shutil.rmtree(example_repo / ".dvc/cache")
    found = dvcmeta.locate(example_repo, tree, "data/breast-cancer/breast_cancer.csv")
    assert found is not None and found.is_relative_to(remote)


def test_data_version_is_the_one_reader_of_the_pointer(example_repo: Path, tmp_path: Path) -> None:
    from mlops.core.dvcmeta import data_version, data_version_of, pointer_output

    md5 = data_version(example_repo)
    assert md5.endswith(".dir")
    assert data_version(tmp_path, required=False) == ""
    with pytest.raises(UserError, match=r"data\.dvc"):
        data_version(tmp_path)
    assert data_version_of((example_repo / "data.dvc").read_text()) == md5
    assert data_version_of("") == data_version_of("outs: nope") == data_version_of("[") == ""
    two = {"outs": [{"md5": "a.dir", "path": "x"}, {"md5": "b", "path": "../../etc"}]}
    assert pointer_output(two) is not None and pointer_output(two, single=True) is None
