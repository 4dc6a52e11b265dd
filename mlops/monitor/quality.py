"""Data quality is not drift: broken inputs become incidents (issues), never a retraining PR.

Four kinds, each judged against the version's training rows:

- ``schema``: logged rows whose feature values do not match the signature (a feature missing or extra);
- ``missing``: missing values (null, NaN) in a feature the training data had none of (or more than it had);
- ``out-of-range``: values outside the training data's [min, max] in more than ``RANGE_SHARE`` of the rows;
- ``unseen``: levels of a discrete or categorical feature the training data never had.

An incident's fingerprint is (environment, model, kind): one issue per kind, updated while it persists
(columns and shares in its body), closed when a window no longer shows it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mlops.core.drift import Kind

if TYPE_CHECKING:
    from pandas import DataFrame

RANGE_SHARE = 0.01  # a drifted window has a few values beyond the training extremes; a broken one has many
MISSING_SHARE = 0.0
MAX_LEVELS = 50  # a "discrete" feature with more levels than this is treated as a number
KINDS = ("schema", "missing", "out-of-range", "unseen")


@dataclass(frozen=True)
class Incident:
    kind: str
    columns: tuple[str, ...]
    detail: str  # one line per column, for the issue body
    evidence: dict[str, float]  # column → share of rows affected

    def fingerprint(self, environment: str, model: str) -> str:
        return hashlib.sha256(f"{environment}/{model}/{self.kind}".encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "columns": list(self.columns), "detail": self.detail, "evidence": self.evidence}


def _shown(columns: list[str]) -> str:
    return ", ".join(columns[:8]) + (f" and {len(columns) - 8} more" if len(columns) > 8 else "")


def check_quality(reference: DataFrame, current: DataFrame, kinds: dict[str, Kind], schema_problem: str | None,
                  schema_rows: int = 0) -> list[Incident]:
    """The incidents of ``current`` (the window's features) against ``reference`` (training features)."""
    found: list[Incident] = []
    if schema_problem:
        found.append(Incident("schema", (), schema_problem, {"rows": float(schema_rows)}))
    if current.empty:
        return found
    cols = [c for c in reference.columns if c in current.columns]
    cur = current[cols].to_numpy(dtype=np.float64)
    ref = reference[cols].to_numpy(dtype=np.float64)
    missing_now = np.isnan(cur).mean(axis=0)
    missing_before = np.isnan(ref).mean(axis=0)
    bad = {c: float(s) for c, s, b in zip(cols, missing_now, missing_before, strict=True)
           if s > MISSING_SHARE and s > b + 0.01 * (b > 0)}
    if bad:
        found.append(Incident("missing", tuple(bad), f"missing values in {_shown(list(bad))}", bad))
    low, high = np.nanmin(ref, axis=0), np.nanmax(ref, axis=0)
    with np.errstate(invalid="ignore"):
        outside = ((cur < low) | (cur > high)).mean(axis=0)
    wild = {c: float(s) for c, s in zip(cols, outside, strict=True) if s > RANGE_SHARE}
    if wild:
        found.append(Incident("out-of-range", tuple(wild), f"values outside the training range in {_shown(list(wild))}",
                              wild))
    unseen: dict[str, float] = {}
    for i, c in enumerate(cols):
        if kinds.get(c, "numeric") == "numeric":
            continue
        levels = np.unique(ref[:, i][~np.isnan(ref[:, i])])
        if levels.size > MAX_LEVELS:
            continue
        values = cur[:, i][~np.isnan(cur[:, i])]
        share = float(np.mean(~np.isin(values, levels))) if values.size else 0.0
        if share > 0:
            unseen[c] = share
    if unseen:
        found.append(Incident("unseen", tuple(unseen), f"levels the training data never had in {_shown(list(unseen))}",
                              unseen))
    return found
