"""Hand a version record back from a training pod: printed to its log, checked and written here.

A training pod's filesystem goes with the pod, so ``mlops.train.pod`` prints the files training added
under ``models/*/versions/`` (the record and its DVC pointer; the artifact itself went to the DVC remote)
as one block in the log::

    ::mlops-record-begin::
    <base64 of {"files": {"models/<m>/versions/<v>.yaml": "…", "models/<m>/versions/<v>.dvc": "…"}}, 76 a line>
    ::mlops-record-end:: sha256:<hex of the decoded JSON>

``Collector`` finds such blocks in followed log lines; ``accept`` checks one and writes it into the local
repository: the record must validate, carry its own ``record_digest``, belong to the model and sit at its
own path; the pointer must track exactly that version's directory with as many files as the record lists;
then (``fetch``) DVC pulls the artifact and it is verified against the record, as ``mlops evaluate`` would.
Nothing is overwritten: a record of the same artifact is "already recorded" (as ``mlops train`` says when it
trains an artifact it has recorded before), a different one is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops.core import atomic
from mlops.core.dvcmeta import pointer_output
from mlops.core.errors import Problem, UserError
from mlops.core.spec.record import VersionRecord, record_digest

BEGIN = "::mlops-record-begin::"
END = "::mlops-record-end::"
WIDTH = 76
MAX_BYTES = 4 << 20  # a record and a pointer are a few KiB; a block past this is refused, not kept in memory


def encode(files: Mapping[str, str]) -> list[str]:
    """The log lines that carry ``files`` (repository path → text)."""
    payload = json.dumps({"files": dict(sorted(files.items()))}, sort_keys=True, ensure_ascii=False).encode()
    text = base64.b64encode(payload).decode("ascii")
    body = [text[i:i + WIDTH] for i in range(0, len(text), WIDTH)]
    return [BEGIN, *body, f"{END} sha256:{hashlib.sha256(payload).hexdigest()}"]


def decode(body: list[str], end: str) -> dict[str, str]:
    """The files of one block, from its base64 lines and its end line; ValueError when damaged."""
    _, _, check = end.partition(" ")
    try:
        payload = base64.b64decode("".join(body), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the block is not base64 (a log line was lost or altered)") from None
    if check != f"sha256:{hashlib.sha256(payload).hexdigest()}":
        raise ValueError("the block's checksum does not match (a log line was lost or altered)")
    data = json.loads(payload)
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise ValueError("the block holds no files")
    return files


@dataclass
class Collector:
    """Reads followed log lines (pod label, line) and keeps the hand-back blocks of each pod label."""

    blocks: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    _open: dict[str, list[str]] = field(default_factory=dict)
    _size: dict[str, int] = field(default_factory=dict)

    def feed(self, label: str, line: str) -> bool:
        """Take one line; True when it is for display (not part of a block)."""
        text = line.strip()
        if text == BEGIN:
            self._open[label], self._size[label] = [], 0
            return False
        body = self._open.get(label)
        if body is None:
            return True
        if text.startswith(END):
            del self._open[label]
            try:
                self.blocks.setdefault(label, []).append(decode(body, text))
            except ValueError as exc:
                self.errors.append(f"{label}: {exc}")
            return False
        self._size[label] += len(text)
        if self._size[label] > MAX_BYTES:
            del self._open[label]
            self.errors.append(f"{label}: a block larger than {MAX_BYTES} bytes was refused")
            return True
        body.append(text)
        return False

    def last(self, label: str) -> dict[str, str] | None:
        found = self.blocks.get(label)
        return found[-1] if found else None


@dataclass(frozen=True)
class Accepted:
    record: VersionRecord
    path: str  # models/<m>/versions/<v>.yaml
    created: bool  # False: this exact record was already in the repository


def _refuse(where: str, message: str) -> UserError:
    return UserError(Problem(where, 1, 1, message))


def check_record(model: str, files: Mapping[str, str]) -> tuple[VersionRecord, str, str]:
    """The record, its path and its pointer's path; refuses anything but one record of ``model`` + pointer."""
    records = [p for p in files if p.endswith(".yaml")]
    if len(records) != 1:
        raise _refuse(f"models/{model}/versions", f"the pod handed back {len(records)} version records "
                                                  f"({', '.join(sorted(files)) or 'no files'}); expected one")
    where = records[0]
    try:
        data = yaml.safe_load(files[where])
        record = VersionRecord.model_validate(data)
    except (yaml.YAMLError, ValueError) as exc:
        first = str(exc).splitlines()[0][:200]
        raise _refuse(where, f"the handed-back version record is not a valid record: {first}") from None
    rel = f"models/{model}/versions/{record.version}.yaml"
    if record.model != model or where != rel:
        raise _refuse(where, f"the handed-back record is {record.model}@{record.version} at {where}; expected a "
                             f"record of {model} at {rel}")
    try:
        digest = record_digest(data)
    except (TypeError, ValueError):
        digest = ""
    if digest != record.record_digest:
        raise _refuse(rel, "the handed-back record does not match its record_digest (altered on the way?)")
    pointer = rel[: -len(".yaml")] + ".dvc"
    extra = sorted(set(files) - {rel, pointer})
    if pointer not in files or extra:
        raise _refuse(rel, f"expected the record and its DVC pointer {pointer} from the pod, got "
                           f"{', '.join(sorted(files))}")
    _check_pointer(files[pointer], pointer, record)
    return record, rel, pointer


def _check_pointer(text: str, where: str, record: VersionRecord) -> None:
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    out = pointer_output(data, single=True)
    if out is None or out.path != record.version or not out.md5.endswith(".dir"):
        raise _refuse(where, f"the handed-back DVC pointer does not track the directory {record.version}; "
                             "expected `dvc add`'s pointer of the artifact")
    if out.nfiles is not None and out.nfiles != len(record.artifact.files):
        raise _refuse(where, f"the DVC pointer tracks {out.nfiles} files but the record lists "
                             f"{len(record.artifact.files)}")


def _existing(path: Path) -> VersionRecord | None:
    try:
        return VersionRecord.model_validate(yaml.safe_load(path.read_text("utf-8")))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError):
        return None


def _ignore(versions: Path, version: str) -> None:
    """Add ``/<version>`` to ``versions/.gitignore`` as ``dvc add`` does (the artifact stays out of git)."""
    path = versions / ".gitignore"
    text = path.read_text("utf-8") if path.is_file() else ""
    if f"/{version}" not in text.splitlines():
        atomic.write_text(path, text + ("" if not text or text.endswith("\n") else "\n") + f"/{version}\n")


def accept(root: Path, model: str, files: Mapping[str, str], *, fetch: bool = True) -> Accepted:
    """Check the handed-back ``files`` and write them into ``root`` (see the module docstring)."""
    from mlops.adapters.artifacts import fetch_verified
    from mlops.train.record import write_once

    record, rel, pointer = check_record(model, files)
    record_path, pointer_path = root / rel, root / pointer
    if record_path.exists():
        existing = _existing(record_path)
        if existing is not None and existing.artifact.digest == record.artifact.digest:
            return Accepted(existing, rel, False)  # as `mlops train` does for an artifact recorded already
        raise _refuse(rel, "a different version record already exists under this version id; records are "
                           "written once and never overwritten")
    wrote_pointer = False
    if pointer_path.exists():
        if pointer_path.read_text("utf-8") != files[pointer]:
            raise _refuse(pointer, "a different DVC pointer already exists for this version; expected none")
    else:
        atomic.write_text(pointer_path, files[pointer])
        wrote_pointer = True
    try:
        if fetch:
            fetch_verified(root, record)
    except BaseException as exc:
        if wrote_pointer:
            pointer_path.unlink(missing_ok=True)
            shutil.rmtree(root / pointer[: -len(".dvc")], ignore_errors=True)
        if isinstance(exc, UserError):
            detail = "; ".join(p.message for p in exc.problems)
            raise _refuse(rel, f"the artifact of {model}@{record.version} could not be fetched from the DVC remote "
                               f"and verified: {detail}") from None
        raise
    _ignore(record_path.parent, record.version)
    write_once(record_path, files[rel], rel)
    from mlops.core.repo import load_repository
    from mlops.explain.cards import write_card

    write_card(load_repository(root, only_models={model}, records=False), record)  # from the checked record
    return Accepted(record, rel, True)
