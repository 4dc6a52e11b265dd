"""The window reader: the last N logged predictions (or those since a time), then a fixed-size seeded sample.

Two passes, so that cost follows the window, not the log:

1. **Which rows.** Segments are visited newest first (by their upper time bound, the object's modification
   time) reading only the ``timestamp`` column (plus ``model`` when the file name cannot tell two models
   apart). Once ``rows`` rows are in hand, a segment whose upper bound (plus :data:`SKEW_S` of clock skew
   between writers and the store) is older than the N-th newest row cannot hold a window row: the visit
   stops. With ``since``, segments older than ``since`` are never opened. The rows are ordered by
   (timestamp, segment, position), the last ``rows`` kept, then ``sample`` of them drawn with ``seed``.
2. **Their values.** Each segment that holds a chosen row is read once more, only the columns and (Parquet)
   row groups needed; the chosen rows' values are copied into preallocated arrays in window order.

A JSON-lines segment has no columns to project: it is parsed once, in pass 1, and kept for pass 2.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlops.adapters.sinks import SchemaReport, Window
from mlops.adapters.sinks.files import COLUMNS, FsspecData, Segment, SegmentError, empty_window
from mlops.adapters.sinks.values import Assembler, list_matrix

SKEW_S = 300.0
AHEAD = 2  # segments read ahead in threads (pyarrow and fsspec release the GIL; object stores have latency)
BAD = np.iinfo(np.int64).min
T = TypeVar("T")
R = TypeVar("R")


def _ahead(fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, Future[R]]]:
    """``(item, future of fn(item))`` in order, with up to :data:`AHEAD` reads in flight; stopping early
    cancels what has not started."""
    pool = ThreadPoolExecutor(AHEAD, thread_name_prefix="mlops-sinks")
    pending: deque[tuple[T, Future[R]]] = deque()
    source = iter(items)
    try:
        for item in source:
            pending.append((item, pool.submit(fn, item)))
            if len(pending) > AHEAD:
                yield pending.popleft()
        while pending:
            yield pending.popleft()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _millis(column: pa.ChunkedArray) -> np.ndarray:
    """Milliseconds since the epoch (UTC) of ISO 8601 strings or timestamps; :data:`BAD` where unreadable."""
    try:
        stamps = pc.cast(column, pa.timestamp("ms", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        import pandas as pd

        parsed = pd.to_datetime(column.to_pandas(), errors="coerce", utc=True, format="ISO8601")
        values = parsed.to_numpy("datetime64[ms]").astype(np.int64)
        return np.where(parsed.isna().to_numpy(), BAD, values)
    return stamps.cast(pa.int64()).fill_null(BAD).to_numpy()


def _ms(when: datetime) -> int:
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() * 1000)


class _Scan:
    """Pass 1: the candidate rows (timestamp, segment, position) of the segments visited."""

    def __init__(self) -> None:
        self.ts: list[np.ndarray] = []
        self.seg: list[np.ndarray] = []
        self.pos: list[np.ndarray] = []
        self.count = 0
        self.scanned = 0
        self.files = 0

    def add(self, index: int, ts: np.ndarray, pos: np.ndarray) -> None:
        self.ts.append(ts[pos])
        self.seg.append(np.full(len(pos), index, np.int64))
        self.pos.append(pos)
        self.count += len(pos)

    def cutoff(self, rows: int) -> int:
        """The N-th newest timestamp so far."""
        stamps = np.concatenate(self.ts)
        return int(np.partition(stamps, len(stamps) - rows)[len(stamps) - rows])


def _scan(data: FsspecData, segments: list[Segment], model: str | None, version: str | None, rows: int | None,
          since_ms: int | None, problems: list[str]) -> tuple[_Scan, dict[int, pa.Table]]:
    scan, cache = _Scan(), {}
    by_column = model is not None and version is None  # "digits" must not take "digits-cnn"'s rows
    columns = ["timestamp", "model"] if by_column else ["timestamp"]

    def read(index: int) -> pa.Table:
        segment = segments[index]
        return data.read(segment, COLUMNS if segment.ext == "jsonl" else columns)[0]

    newest_first = range(len(segments) - 1, -1, -1)
    if since_ms is not None:  # segments written before `since` cannot hold a row since
        newest_first = range(len(segments) - 1, int(np.searchsorted(
            [(s.upper + SKEW_S) * 1000 for s in segments], since_ms, side="left")) - 1, -1)
    for index, future in _ahead(read, newest_first):
        segment = segments[index]
        upper_ms = (segment.upper + SKEW_S) * 1000
        if rows is not None and scan.count >= rows and upper_ms < scan.cutoff(rows):
            break
        try:
            table = future.result()
        except SegmentError as exc:
            problems.append(str(exc))
            continue
        skipped = int((table.schema.metadata or {}).get(b"skipped", 0))
        if skipped:
            problems.append(f"{segment.name}: {skipped} unreadable line(s) skipped")
        if segment.ext == "jsonl":  # parsed once, kept for pass 2
            cache[index] = table
        scan.files += 1
        scan.scanned += table.num_rows
        if table.num_rows == 0 or "timestamp" not in table.column_names:
            continue
        ts = _millis(table.column("timestamp"))
        valid = ts != BAD
        if not valid.all():
            problems.append(f"{segment.name}: {int((~valid).sum())} row(s) without a readable timestamp skipped")
        if by_column and "model" in table.column_names:
            valid &= (table.column("model").to_numpy(zero_copy_only=False) == model)
        if since_ms is not None:
            valid &= ts >= since_ms
        scan.add(index, ts, np.flatnonzero(valid))
    return scan, cache


def read_window(data: FsspecData, model: str | None, version: str | None, features: Sequence[str] | None, *,
                rows: int | None = None, since: datetime | None = None, sample: int | None = None,
                seed: int = 0) -> Window:
    """See :meth:`mlops.adapters.sinks.ProductionData.read_window`."""
    if (rows is not None and rows < 1) or (sample is not None and sample < 1):
        raise ValueError(f"rows ({rows}) and sample ({sample}) must be at least 1 when given")
    names = tuple(features or ())
    problems: list[str] = []
    segments = data.segments(model, version)
    scan, cache = _scan(data, segments, model, version, rows, None if since is None else _ms(since), problems)
    if not scan.count:
        return empty_window(names, problems, scan.files, scan.scanned)
    ts, seg, pos = np.concatenate(scan.ts), np.concatenate(scan.seg), np.concatenate(scan.pos)
    order = np.lexsort((pos, seg, ts))
    if rows is not None:
        order = order[-rows:]
    total = len(order)
    start, end = (datetime.fromtimestamp(ts[order[i]] / 1000, UTC) for i in (0, -1))
    if sample is not None and total > sample:
        order = order[np.sort(np.random.default_rng(seed).choice(total, sample, replace=False))]
    chosen = set(np.unique(seg[order]).tolist())
    for index in [i for i in cache if i not in chosen]:  # parsed JSON lines no chosen row is in
        del cache[index]
    return _values(data, segments, cache, names, ts[order], seg[order], pos[order], problems,
                   scanned=scan.scanned, total=total, files=scan.files, start=start, end=end)


def _values(data: FsspecData, segments: list[Segment], cache: dict[int, pa.Table], names: tuple[str, ...],
            ts: np.ndarray, seg: np.ndarray, pos: np.ndarray, problems: list[str], **counts: Any) -> Window:
    """Pass 2: the chosen rows' values, in window order."""
    kept = len(ts)
    out = Assembler(kept, len(names) or None)
    widths: Counter[int] = Counter()
    by_segment = np.argsort(seg, kind="stable")
    bounds = np.flatnonzero(np.diff(seg[by_segment])) + 1

    def read(slots: np.ndarray) -> tuple[pa.Table, np.ndarray]:
        index, wanted = int(seg[slots[0]]), pos[slots]
        cached = cache.pop(index, None)
        if cached is not None:
            return cached, wanted
        table, moved = data.read(segments[index], COLUMNS, wanted)
        return table, wanted if moved is None else moved

    for slots, future in _ahead(read, np.split(by_segment, bounds)):
        index = int(seg[slots[0]])
        try:
            table, wanted = future.result()
        except SegmentError as exc:
            problems.append(f"{exc} (between the two reads)")
            out.drop(slots)
            continue
        if "features" not in table.column_names:
            problems.append(f"{segments[index].name}: no features column")
            out.drop(slots)
            continue
        try:
            matrix, ok, seen = list_matrix(table.column("features"), wanted, out.width)
            raw = list_matrix(table.column("outputs"), wanted, out.outputs_width)[:2] \
                if "outputs" in table.column_names else None
        except pa.ArrowException as exc:  # e.g. features that are not numbers
            problems.append(f"{segments[index].name}: unreadable values ({str(exc)[:200]})")
            out.drop(slots)
            continue
        widths.update(seen)
        out.put_features(slots, matrix, ok)
        if raw is not None:
            out.put_outputs(slots, *raw)
        taken = table.select([c for c in ("request_id", "row", "model", "version", "prediction")
                              if c in table.column_names]).take(pa.array(wanted))
        out.put_meta(slots, taken)
    width = out.width or 0
    cols = names or tuple(str(i) for i in range(width))
    left_out = sum(n for w, n in widths.items() if w != width)
    longest = max(widths, default=width)
    schema = SchemaReport(cols, dict(widths), tuple(cols[min(widths, default=width):]),
                          max(0, longest - width), left_out)
    if schema.describe():
        problems.append(str(schema.describe()))
    features, meta, outputs = out.frames(cols, ts)
    return Window(features, meta, outputs, kept=len(features), schema=schema, problems=tuple(problems), **counts)
