"""The model's table: read from the DVC-tracked ``data/``, checked, split and summarised.

Every problem is a :class:`UserError` pointing at ``model.yaml`` (the CSV itself is not in git),
naming the column and the CSV line. The split is a seeded hash of the row index (splitmix64), so it
is the same on every machine and does not move rows between splits when rows are appended.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlops.core.errors import UserError
from mlops.core.spec.model import ModelSpec
from mlops.core.yamlpos import Document

SPLITS = ("train", "validation", "test")
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass(frozen=True)
class Table:
    """Features (float32 ``[N, F]``), targets (class index int64 or float32 value) and the split."""

    x: np.ndarray
    y: np.ndarray
    split: np.ndarray  # 0 train, 1 validation, 2 test
    features: list[str]
    classes: list[int | str]

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        mask = self.split == SPLITS.index(name)
        return self.x[mask], self.y[mask]

    @property
    def rows(self) -> dict[str, int]:
        return {name: int(np.sum(self.split == i)) for i, name in enumerate(SPLITS)}

    @property
    def n_outputs(self) -> int:
        return len(self.classes) if self.classes else 1

    def standardisation(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of the training split (std 0 → 1, so constant features stay finite)."""
        x, _ = self.part("train")
        mean = x.astype(np.float64).mean(axis=0)
        std = x.astype(np.float64).std(axis=0)
        std[std == 0] = 1.0
        return mean.astype(np.float32), std.astype(np.float32)


def split_of(n: int, test: float, validation: float, seed: int) -> np.ndarray:
    """0/1/2 per row from a splitmix64 hash of (seed, row index): fixed fractions of [0, 1)."""
    with np.errstate(over="ignore"):
        z = (np.arange(n, dtype=np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)) & _MASK
        z = (z + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return np.where(u < test, 2, np.where(u < test + validation, 1, 0)).astype(np.int8)


def _problem(doc: Document, loc: tuple[str | int, ...], message: str, key: bool = False) -> UserError:
    return UserError(doc.problem(loc, message, key=key))


def _numeric(frame: Any, column: str, dtype: str, doc: Document, rel: str) -> np.ndarray:
    """Column as float32, with the first bad value named by CSV line when it does not parse."""
    import pandas as pd

    raw = frame[column]
    loc = ("data", "features", column)
    if dtype == "bool":
        lowered = raw.str.strip().str.lower()
        mapping = {"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0}
        bad = ~lowered.isin(list(mapping)) & (lowered != "")
        values = lowered.map(mapping)
    else:
        values = pd.to_numeric(raw.str.strip().replace("", np.nan), errors="coerce")
        bad = values.isna() & (raw.str.strip() != "") & ~raw.str.strip().str.lower().isin(["nan", "na", "null"])
        if dtype.startswith("int") and not bad.any():
            bad = values.notna() & (values != np.round(values))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise _problem(doc, loc, f"{rel} line {row + 2}: column {column!r} has {raw.iloc[row]!r}, which is not "
                                 f"{'true/false' if dtype == 'bool' else 'a number'}; expected {dtype} "
                                 f"({int(bad.sum())} bad value(s) in this column)")
    array = values.to_numpy(dtype=np.float64)
    missing = ~np.isfinite(array)
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise _problem(doc, loc, f"{rel} line {row + 2}: column {column!r} is empty, NaN or infinite "
                                 f"({int(missing.sum())} such value(s)); expected finite {dtype} values")
    return array.astype(np.float32)


def _labels(frame: Any, spec: ModelSpec, doc: Document, rel: str) -> tuple[np.ndarray, list[int | str]]:
    raw = frame[spec.data.label].str.strip()
    loc = ("data", "label")
    empty = (raw == "") | raw.str.lower().isin(["nan", "na", "null"])
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise _problem(doc, loc, f"{rel} line {row + 2}: label column {spec.data.label!r} is empty or NaN "
                                 f"({int(empty.sum())} such row(s)); expected a label on every row")
    if spec.task == "regression":
        return _numeric(frame, spec.data.label, "float32", doc, rel).astype(np.float32), []
    values = raw.to_numpy(dtype=str)
    try:
        as_int = np.array([int(v) for v in values], dtype=np.int64)
        classes: list[int | str] = [int(c) for c in np.unique(as_int)]
        index = np.searchsorted(np.array(classes, dtype=np.int64), as_int)
    except ValueError:
        uniq = np.unique(values)
        classes = [str(c) for c in uniq]
        index = np.searchsorted(uniq, values)
    if len(classes) < 2:
        raise _problem(doc, loc, f"label column {spec.data.label!r} has {len(classes)} distinct value(s); "
                                 "classification needs at least 2")
    return index.astype(np.int64), classes


def check_header(path: Path, spec: ModelSpec, doc: Document) -> None:
    """Every feature and the label are columns of the CSV (else: the model.yaml key that names it)."""
    import pandas as pd

    rel = spec.data.path
    try:
        header = pd.read_csv(path, nrows=0).columns.tolist()
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise _problem(doc, ("data", "path"), f"cannot read {rel} as CSV: {exc}") from None
    for col in [*spec.data.features, spec.data.label]:
        if col not in header:
            loc: tuple[str | int, ...] = ("data", "label") if col == spec.data.label else ("data", "features", col)
            raise _problem(doc, loc, f"column {col!r} is not in {rel}; its header has {len(header)} columns "
                                     f"({', '.join(header[:6])}{', …' if len(header) > 6 else ''})",
                           key=col != spec.data.label)


def read_strings(path: Path, columns: list[str], spec: ModelSpec, doc: Document) -> Any:
    """Columns as strings (so a bad value is reported, not silently turned into NaN)."""
    import pandas as pd

    try:
        return pd.read_csv(path, usecols=columns, dtype=str, keep_default_na=False, na_filter=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise _problem(doc, ("data", "path"), f"cannot read {spec.data.path} as CSV: {exc}") from None


def _fast_features(path: Path, spec: ModelSpec) -> np.ndarray | None:
    """All features parsed by pandas' C reader when every value is a finite number; else None."""
    import pandas as pd

    feats = spec.data.features
    if any(d == "bool" for d in feats.values()):
        return None
    try:
        frame = pd.read_csv(path, usecols=list(feats), dtype=dict.fromkeys(feats, "float64"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    x = frame[list(feats)].to_numpy(dtype=np.float64)
    ints = [i for i, d in enumerate(feats.values()) if d.startswith("int")]
    if not np.isfinite(x).all() or (ints and (x[:, ints] != np.round(x[:, ints])).any()):
        return None
    return x.astype(np.float32)


def load_table(path: Path, spec: ModelSpec, doc: Document) -> Table:
    rel = spec.data.path
    check_header(path, spec, doc)
    frame = read_strings(path, [spec.data.label], spec, doc)
    if len(frame) == 0:
        raise _problem(doc, ("data", "path"), f"{rel} has no rows; expected a header and data rows")
    x = _fast_features(path, spec)
    if x is None or len(x) != len(frame):
        strings = read_strings(path, list(spec.data.features), spec, doc)
        x = np.stack([_numeric(strings, c, d, doc, rel) for c, d in spec.data.features.items()], axis=1)
    y, classes = _labels(frame, spec, doc, rel)
    s = spec.data.split
    table = Table(x, y, split_of(len(frame), s.test, s.validation, s.seed), list(spec.data.features), classes)
    for name, key in (("train", "test"), ("test", "test"), ("validation", "validation")):
        if table.rows[name] == 0 and (name != "validation" or s.validation > 0):
            raise _problem(doc, ("data", "split", key),
                           f"the {name} split of {rel} is empty ({len(frame)} rows, test {s.test}, "
                           f"validation {s.validation}); expected fractions that leave rows in every split")
    return table
