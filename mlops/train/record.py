"""Write a version record: once, atomically, never over an existing one.

The YAML has sorted keys and a fixed style; ``record_digest`` is computed over exactly what a
reader gets back from that YAML, so ``mlops validate`` recomputes the same digest.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from mlops.core.errors import Problem, UserError
from mlops.core.spec.record import VersionRecord, record_digest

PLACEHOLDER = "sha256:" + "0" * 64


def dump_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=True, default_flow_style=False, allow_unicode=True, width=120,
                          indent=2)


def finalize(body: dict[str, Any]) -> tuple[VersionRecord, str]:
    """The validated record and its YAML text, with ``record_digest`` over the YAML round trip."""
    draft = VersionRecord.model_validate({**body, "record_digest": PLACEHOLDER}).body()
    reread = yaml.safe_load(dump_yaml(draft))
    full = {**draft, "record_digest": record_digest(reread)}
    text = "# Version record written by `mlops train`. Immutable: train a new version instead of editing.\n"
    text += dump_yaml(full)
    record = VersionRecord.model_validate(full)
    if record_digest(yaml.safe_load(text)) != record.record_digest:  # pragma: no cover - a YAML round-trip bug
        raise RuntimeError("version record does not survive a YAML round trip")
    return record, text


def write_once(path: Path, text: str, where: str) -> None:
    """Create ``path`` with ``text`` atomically; refuse (UserError) when it already exists.

    The file is written and fsynced under a temp name, then hard-linked into place: ``link`` fails
    when the name exists, so two writers can never overwrite each other.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise UserError(Problem(where, 1, 1, "version record already exists; records are written once "
                                                     "and never overwritten")) from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def summary_lines(record: VersionRecord, rel: str, *, created: bool = True, order: Sequence[str] = ()) -> list[str]:
    """What ``mlops train`` prints about a version: a first line, then its digest, store and metrics.

    ``order``: the spec's ``evaluation.metrics``, the order training prints them in (a record sorts its keys).
    """
    state = "recorded" if created else "already recorded"
    names = [m for m in order if m in record.metrics] + [m for m in record.metrics if m not in order]
    return [f"{record.model}@{record.version} {state}: {rel}", f"  digest  {record.artifact.digest}",
            f"  stored  {record.artifact.uri}",
            "  metrics " + ", ".join(f"{k} {record.metrics[k]:.4f}" for k in names)]
