"""Atomic writes: a failed command leaves the repository as it was.

A write the file system refuses (a directory in the way, no permission, disk full) is a
:class:`~mlops.core.errors.UserError` at the target path: one line, no traceback, nothing left behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from mlops.core.errors import UserError


def cannot_write(path: Path, exc: OSError) -> UserError:
    """The one-line error for a refused write of ``path``."""
    if isinstance(exc, IsADirectoryError) and path.is_dir():
        return UserError.at(str(path), "is a directory; expected a file path to write")
    reason = exc.strerror or str(exc)
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        reason = f"{blocker} is a file, not a directory"
    return UserError.at(str(path), f"cannot write: {reason}; expected a writable location")


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same directory and an atomic rename."""
    if path.is_dir():
        raise UserError.at(str(path), "is a directory; expected a file path to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise cannot_write(path, exc) from None
        raise


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_tree(root: Path, files: Mapping[str, bytes], *, prune: bool = True) -> None:
    """Replace the directory ``root`` by exactly ``files`` (relative path → content), all at once.

    The new tree is built beside ``root`` and swapped in with renames, so a failure midway leaves
    the old tree untouched.
    """
    root = root.resolve()
    if root.exists() and not root.is_dir():
        raise UserError.at(str(root), "is a file; expected a directory to write into")
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    except OSError as exc:
        raise cannot_write(root, exc) from None
    old = root.with_name(f".{root.name}.old")
    try:
        if not prune and root.is_dir():
            shutil.copytree(root, staging, dirs_exist_ok=True)
        for rel, data in files.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if old.exists():
            shutil.rmtree(old)
        if root.exists():
            os.replace(root, old)
        os.replace(staging, root)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if old.is_dir() and not root.exists():  # swapped out but the new tree did not go in: put it back
            os.replace(old, root)
        if isinstance(exc, OSError):
            raise cannot_write(root, exc) from None
        raise
