"""A sink location through fsspec: list its log segments, read one segment's columns as an Arrow table.

Segments are the files ``mlops.serve.predlog`` writes: ``predictions-<model>-<version>-<UTC>-<writer>-<n>``
with ``.parquet`` (read with column projection: only the columns asked for leave the object store) or
``.jsonl`` (parsed by pyarrow's multithreaded JSON reader; a half-written last line is dropped, and a file
with bad lines falls back to a line-by-line parse that skips and counts them). Each segment also carries an
upper bound of its rows' timestamps: the object's modification time (a row is written after it is logged),
so the window reader can stop listing back in time once it has enough rows.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import orjson
import pyarrow as pa

from mlops.adapters.sinks import SchemaReport, Window
from mlops.core.errors import UserError

SEGMENT = re.compile(r"^predictions-(?P<mv>.+)-(?P<stamp>\d{8}T\d{6}Z)-(?P<writer>[0-9A-Za-z.]+)-(?P<seq>\d+)"
                     r"\.(?P<ext>jsonl|parquet)$")
COLUMNS = ("request_id", "row", "timestamp", "model", "version", "features", "outputs", "prediction")
_JSON_TYPES = {"request_id": pa.string(), "row": pa.int64(), "timestamp": pa.string(), "model": pa.string(),
               "version": pa.string(), "features": pa.list_(pa.float64()), "outputs": pa.list_(pa.float64())}


class SegmentError(Exception):
    """A segment that cannot be read (corrupt, truncated, vanished): reported, never raised to the caller."""


@dataclass(frozen=True)
class Segment:
    path: str
    name: str
    ext: str
    upper: float  # no row in it is later than this (Unix seconds; inf when unknown)


def _mtime(info: dict[str, Any]) -> float:
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(key)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return math.inf


class FsspecData:
    """:class:`mlops.adapters.sinks.ProductionData` on any fsspec filesystem (a directory locally)."""

    def __init__(self, location: str | Path, base: Path | None = None, **storage: Any) -> None:
        text = str(location)
        if "://" not in text and not Path(text).is_absolute() and base is not None:
            text = str(base / text)
        self.location = text
        try:
            if "://" in text:
                self.fs, self.root = fsspec.core.url_to_fs(text, **storage)
            else:
                self.fs, self.root = fsspec.filesystem("file"), str(Path(text).resolve())
        except (ImportError, ValueError) as exc:
            raise UserError.at("monitoring", f"cannot read production data at {text}: {exc}; expected a "
                                             "directory or an fsspec URL whose package is installed "
                                             "(s3fs for s3://)") from None
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self.local = "file" in protocols or "local" in protocols
        self.s3 = any(p in ("s3", "s3a") for p in protocols)
        self.root = self.root.rstrip("/")

    # -- listing -------------------------------------------------------------------------------------------

    def _ls(self, prefix: str) -> list[dict[str, Any]]:
        self.fs.invalidate_cache(self.root)  # an object store's listing cache would hide new segments
        try:
            if not self.fs.exists(self.root):
                return []
            if self.s3:  # list only this model's keys (a prefix the object store filters)
                found = self.fs.find(self.root, maxdepth=1, detail=True, prefix=prefix)
                return list(found.values())
            return [i for i in self.fs.ls(self.root, detail=True)
                    if i.get("type") == "file" and i["name"].rsplit("/", 1)[-1].startswith(prefix)]
        except FileNotFoundError:
            return []

    def segments(self, model: str | None, version: str | None) -> list[Segment]:
        """The log segments that may hold ``model`` at ``version``, oldest first (by upper bound, then name)."""
        prefix = "predictions-" + (f"{model}-" if model else "") + (f"{version}-" if model and version else "")
        out = []
        for info in self._ls(prefix):
            name = info["name"].rsplit("/", 1)[-1]
            match = SEGMENT.match(name)
            if match is None:
                continue
            mv = match["mv"]
            if model and version and mv != f"{model}-{version}":
                continue
            if model and not version and not mv.startswith(f"{model}-"):
                continue
            out.append(Segment(info["name"], name, match["ext"], _mtime(info)))
        return sorted(out, key=lambda s: (s.upper, s.name))

    # -- reading one segment -------------------------------------------------------------------------------

    def read(self, segment: Segment, columns: Sequence[str],
             positions: np.ndarray | None = None) -> tuple[pa.Table, np.ndarray | None]:
        """``columns`` of one segment (those it has) and ``positions`` renumbered into the table returned: a
        Parquet segment reads only the row groups that hold them. Raises :class:`SegmentError` when the
        segment is unreadable (corrupt, truncated, gone)."""
        try:
            if segment.ext == "parquet":
                return self._parquet(segment.path, columns, positions)
            return self._jsonl(segment.path, columns), positions
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise SegmentError(f"{segment.name}: unreadable ({type(exc).__name__}: {str(exc)[:200]})") from None

    def _parquet(self, path: str, columns: Sequence[str],
                 positions: np.ndarray | None) -> tuple[pa.Table, np.ndarray | None]:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path, memory_map=True) if self.local else pq.ParquetFile(path, filesystem=self.fs)
        have = set(pf.schema_arrow.names)
        wanted = [c for c in columns if c in have]
        groups = pf.metadata.num_row_groups
        if positions is None or groups <= 1:
            return pf.read(columns=wanted, use_threads=True), positions
        starts = np.cumsum([0] + [pf.metadata.row_group(g).num_rows for g in range(groups)])
        needed = np.unique(np.searchsorted(starts, positions, side="right") - 1)
        sizes = starts[needed + 1] - starts[needed]
        new_starts = np.cumsum(np.concatenate([[0], sizes[:-1]]))
        where = np.searchsorted(needed, np.searchsorted(starts, positions, side="right") - 1)
        moved = positions - starts[needed][where] + new_starts[where]
        return pf.read_row_groups(needed.tolist(), columns=wanted, use_threads=True), moved

    def _jsonl(self, path: str, columns: Sequence[str]) -> pa.Table:
        import pyarrow.json as pj

        data = self.fs.cat_file(path)
        end = data.rfind(b"\n")
        if end + 1 < len(data):
            data = data[:end + 1]  # a writer may be mid-line: readers skip the half-written last line
        if not data or data.isspace():
            return pa.table({c: pa.array([], _JSON_TYPES.get(c, pa.null())) for c in columns})
        schema = pa.schema([(c, t) for c, t in _JSON_TYPES.items() if c in columns])
        try:
            table = pj.read_json(io.BytesIO(data), parse_options=pj.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="infer"))
            return table.select([c for c in columns if c in table.column_names])
        except pa.ArrowInvalid:
            return _jsonl_by_line(data, columns)

    # -- the seam ------------------------------------------------------------------------------------------

    def read_window(self, model: str | None, version: str | None, features: Sequence[str] | None = None, *,
                    rows: int | None = None, since: datetime | None = None, sample: int | None = None,
                    seed: int = 0) -> Window:
        from mlops.adapters.sinks.window import read_window

        return read_window(self, model, version, features, rows=rows, since=since, sample=sample, seed=seed)

    def read_labels(self, model: str | None) -> Any:
        from mlops.adapters.sinks.frames import read_labels_table

        return read_labels_table(self, model)


def _jsonl_by_line(data: bytes, columns: Sequence[str]) -> pa.Table:
    """The slow, forgiving path: one ``orjson.loads`` per line; a line that is not a log row is skipped
    (its count is kept in the table's metadata under ``skipped``)."""
    cols: dict[str, list[Any]] = {c: [] for c in columns}
    skipped = 0
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("features", []), list):
                raise ValueError("not a row")
        except ValueError:
            skipped += 1
            continue
        for c in columns:
            cols[c].append(item.get(c))
    arrays = {}
    for c, values in cols.items():
        try:
            arrays[c] = pa.array(values, _JSON_TYPES.get(c))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays[c] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(arrays).replace_schema_metadata({"skipped": str(skipped)})


def empty_window(features: Sequence[str], problems: Sequence[str] = (), files: int = 0, scanned: int = 0) -> Window:
    """A window without rows (an empty sink, nothing since ``since``): the feature columns, no values."""
    import pandas as pd

    frame = pd.DataFrame({f: pd.Series([], dtype="float64") for f in features})
    meta = pd.DataFrame({"request_id": pd.Series([], dtype=object), "row": pd.Series([], dtype="int64"),
                         "timestamp": pd.Series([], dtype="datetime64[ms, UTC]"),
                         "model": pd.Series([], dtype=object), "version": pd.Series([], dtype=object),
                         "prediction": pd.Series([], dtype=object)})
    return Window(frame, meta, np.zeros((0, 0)), scanned, 0, 0, files, SchemaReport(tuple(features)),
                  problems=tuple(problems))
