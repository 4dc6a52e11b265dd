"""Atomic writes: a failure midway leaves what was there before."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlops.core import atomic


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
    with pytest.raises(OSError, match="disk full"):
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
        def items(self):  # type: ignore[override]
            yield "b.yaml", b"b"
            raise Boom

    with pytest.raises(Boom):
        atomic.write_tree(root, Exploding())
    assert sorted(p.name for p in root.iterdir()) == ["a.yaml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
