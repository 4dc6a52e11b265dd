"""Version records are append-only: against a base revision, a record may be added, never changed or removed."""

from __future__ import annotations

from pathlib import Path

from mlops.adapters.scm import open_scm
from mlops.core.errors import Problem

RECORDS = "models/*/versions/*.yaml"


def record_changes(root: Path, base: str) -> list[Problem]:
    """Problems for every version record that ``base`` has and the working tree changed or deleted."""
    scm = open_scm(root)
    sha = scm.require(base)
    problems: list[Problem] = []
    for change in scm.changed(sha, paths=[RECORDS]):
        if change.status == "M":
            problems.append(Problem(change.path, 1, 1, f"version record changed since {base}; records are "
                                                       "immutable (train a new version instead)"))
        elif change.status == "D":
            problems.append(Problem(change.path, 1, 1, f"version record deleted since {base}; records are "
                                                       "immutable (unpin the version instead)"))
    return problems
