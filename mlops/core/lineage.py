"""Content addressing of artifacts and version ids (pure: hashing files only).

An artifact is a directory. Its digest is the sha256 of its manifest, which is exactly what
``sha256sum`` prints for its files sorted by name (``<hex>  <name>\\n`` per file), so anyone can
check it with ``sha256sum`` alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from mlops.core.errors import Problem, UserError

CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def manifest(files: Mapping[str, str]) -> str:
    return "".join(f"{files[name].removeprefix('sha256:')}  {name}\n" for name in sorted(files))


def artifact_digest(files: Mapping[str, str]) -> str:
    return "sha256:" + hashlib.sha256(manifest(files).encode("utf-8")).hexdigest()


def hash_artifact(directory: Path) -> tuple[str, dict[str, str]]:
    """(digest, file name → sha256) for every regular file directly in ``directory``."""
    files = {p.name: file_sha256(p) for p in sorted(directory.iterdir()) if p.is_file()}
    return artifact_digest(files), files


def verify_artifact(directory: Path, expected_digest: str, expected_files: Mapping[str, str] | None = None,
                    where: str = "artifact") -> None:
    """Refuse an artifact whose content does not match its record, before anything loads it."""
    if not directory.is_dir():
        raise UserError(Problem(where, 1, 1, f"artifact directory {directory} does not exist; expected it "
                                             "fetched from the DVC remote"))
    digest, files = hash_artifact(directory)
    if expected_files is not None and files != dict(expected_files):
        changed = sorted(n for n in set(files) | set(expected_files) if files.get(n) != expected_files.get(n))
        raise UserError(Problem(where, 1, 1, f"artifact files differ from the version record: {', '.join(changed)}; "
                                             "refusing to load a tampered or incomplete artifact"))
    if digest != expected_digest:
        raise UserError(Problem(where, 1, 1, f"artifact digest {digest} does not match the version record's "
                                             f"{expected_digest}; refusing to load it"))


def version_id(digest: str, when: datetime) -> str:
    """``YYYYMMDD-<first 8 hex of the artifact digest>``: sortable by day, unique by content."""
    return f"{when:%Y%m%d}-{digest.removeprefix('sha256:')[:8]}"
