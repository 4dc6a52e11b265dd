"""Atomic writes: a failure midway leaves what was there before."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops.core import atomic
from mlops.core.errors import UserError


def test_write_bytes_and_text(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "f.txt"
    atomic.write_text(target, "héllo\n")
    assert target.read_bytes() == "héllo\n".encode()
    atomic.write_bytes(target, b"again")
    assert target.read_bytes() == b"again"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.txt"]  # no temp files left


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f.txt"
    target.write_text("old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(UserError, match=r"f\.txt:1:1: cannot write: disk full; expected a writable location"):
        atomic.write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_write_tree_replaces_the_whole_directory(tmp_path: Path) -> None:
    root = tmp_path / "out"
    atomic.write_tree(root, {"a.yaml": b"a", "sub/b.yaml": b"b"})
    atomic.write_tree(root, {"c.yaml": b"c"})
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == ["c.yaml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging or .old left


def test_write_tree_without_prune_keeps_other_files(tmp_path: Path) -> None:
    root = tmp_path / "out"
    atomic.write_tree(root, {"a.yaml": b"a", "sub/b.yaml": b"b"})
    atomic.write_tree(root, {"a.yaml": b"A"}, prune=False)
    assert (root / "a.yaml").read_bytes() == b"A"
    assert (root / "sub/b.yaml").read_bytes() == b"b"


def test_failed_write_tree_keeps_the_old_tree(tmp_path: Path) -> None:
    root = tmp_path / "out"
    atomic.write_tree(root, {"a.yaml": b"a"})

    class Boom(Exception):
        pass

    class Exploding(dict[str, bytes]):
        def items(self) -> Iterator[tuple[str, bytes]]:  # type: ignore[override]
            yield "b.yaml", b"b"
            raise Boom

    with pytest.raises(Boom):
        atomic.write_tree(root, Exploding())
    assert sorted(p.name for p in root.iterdir()) == ["a.yaml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_write_onto_a_directory_is_one_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        atomic.write_text(tmp_path, "x")
    assert str(info.value) == f"{tmp_path}:1:1: is a directory; expected a file path to write"
    assert list(tmp_path.parent.glob(".*.tmp")) == []


def test_write_under_a_file_names_the_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    target = tmp_path / "plain" / "sub" / "v.json"
    with pytest.raises(UserError) as info:
        atomic.write_text(target, "x")
    assert str(info.value) == (f"{target}:1:1: cannot write: {tmp_path / 'plain'} is a file, not a directory; "
                               "expected a writable location")


def test_write_tree_onto_a_file_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("mine")
    with pytest.raises(UserError, match="is a file; expected a directory to write into"):
        atomic.write_tree(tmp_path / "out", {"a.yaml": b"a"})
    assert (tmp_path / "out").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_write_tree_puts_the_old_tree_back_when_the_swap_fails(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "out"
    atomic.write_tree(root, {"a.yaml": b"a"})
    real_replace = os.replace

    def fail_second(src: str | Path, dst: str | Path) -> None:
        if Path(dst) == root and Path(src).name != ".out.old":  # the new tree, not the restore
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", fail_second)
    with pytest.raises(UserError, match="cannot write: No space left on device"):
        atomic.write_tree(root, {"b.yaml": b"b"})
    monkeypatch.setattr(os, "replace", real_replace)
    assert sorted(p.name for p in root.iterdir()) == ["a.yaml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
