"""The prediction log: a sampled share of requests, written off the request path for monitoring.

Each sampled request adds one row per sample to a bounded in-memory buffer (full → the row is dropped and
``mlops_prediction_log_dropped_total`` counts it); a background thread writes the buffer every
``flush_s`` to a ``Sink``:

- a local directory, JSONL: appended to ``predictions-<model>-<version>-<UTC start>-<writer>-<n>.jsonl``, a new
  file after ``rotate_bytes`` or ``rotate_s`` (readers skip a half-written last line);
- a local directory, Parquet, or any fsspec URL (``s3://…``, ``gs://…``, ``memory://…``): rows are buffered
  and written as one complete object per rotation (``.jsonl`` or ``.parquet``, LZ4), named with the UTC time
  of the write.

``<writer>`` is ``<pid>.<8 random hex>``: unique per process, even where every replica runs as PID 1 and they
share one bucket. Readers: :mod:`mlops.adapters.sinks` (the monitor's window reader).

A row (JSONL line)::

    {"request_id": "…", "row": 0, "model": "digits-cnn", "version": "20250101-abcd1234",
     "timestamp": "2025-01-01T12:00:00.123Z", "features": [64 numbers in signature order],
     "outputs": [10 numbers], "prediction": 7}

``prediction`` is the class label (classification) or the value (regression). ``row`` is the sample's
index inside its request; labels join on ``(request_id, row)`` (see ``mlops.serve.labels``).
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import threading
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import orjson

from mlops.core.errors import UserError
from mlops.serve.metrics import Metrics

log = logging.getLogger("mlops.serve")
ROTATE_BYTES = 16 << 20
ROTATE_S = 600.0
# LZ4 and no dictionary for the float lists: decoding 1M × 64 float32-valued features takes ~0.9 s instead of
# ~1.6–4 s with pyarrow's defaults (snappy + dictionary), at about the same size (0.38 GB; zstd: 0.32 GB but
# 1.4 s). Measured for benchmarks/bench_window.py; the constant strings stay dictionary-encoded.
PARQUET_OPTIONS: dict[str, Any] = {"compression": "lz4", "use_dictionary": ["model", "version", "prediction"]}


class Sink(Protocol):
    def write(self, lines: list[bytes], rows: list[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


_WRITER: dict[int, str] = {}


def _stem(model: str, version: str, seq: int) -> str:
    pid = os.getpid()
    writer = _WRITER.setdefault(pid, f"{pid}.{secrets.token_hex(4)}")  # a forked child gets its own
    return f"predictions-{model}-{version}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{writer}-{seq}"


class JsonlDirSink:
    """Append JSONL lines to a local file; start a new file past ``rotate_bytes`` or ``rotate_s``."""

    def __init__(self, directory: Path, model: str, version: str, rotate_bytes: int = ROTATE_BYTES,
                 rotate_s: float = ROTATE_S) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory, self.model, self.version = directory, model, version
        self.rotate_bytes, self.rotate_s = rotate_bytes, rotate_s
        self._fh: Any = None
        self._opened = 0.0
        self._seq = 0
        self.files: list[Path] = []

    def write(self, lines: list[bytes], rows: list[dict[str, Any]]) -> None:
        if self._fh is None:
            path = self.directory / (_stem(self.model, self.version, self._seq) + ".jsonl")
            self._seq += 1
            self._fh = path.open("ab")
            self._opened = time.monotonic()
            self.files.append(path)
        self._fh.write(b"".join(lines))
        self._fh.flush()
        if self._fh.tell() >= self.rotate_bytes or time.monotonic() - self._opened >= self.rotate_s:
            self.close()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class SegmentSink:
    """Buffer rows; write one complete ``.jsonl`` or ``.parquet`` object per segment through fsspec."""

    def __init__(self, url: str, fmt: str, model: str, version: str, rotate_bytes: int = ROTATE_BYTES,
                 rotate_s: float = ROTATE_S) -> None:
        import fsspec

        if fmt == "parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise UserError.at("serving.prediction_log", "format parquet needs pyarrow installed; "
                                                             "install it or use format jsonl") from None
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.fs.makedirs(self.root, exist_ok=True)
        self.local = "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))
        self.fmt, self.model, self.version = fmt, model, version
        self.rotate_bytes, self.rotate_s = rotate_bytes, rotate_s
        self._lines: list[bytes] = []
        self._rows: list[dict[str, Any]] = []
        self._bytes = 0
        self._started = time.monotonic()
        self._seq = 0
        self.files: list[str] = []

    def write(self, lines: list[bytes], rows: list[dict[str, Any]]) -> None:
        if not self._lines:
            self._started = time.monotonic()
        self._lines.extend(lines)
        self._rows.extend(rows)
        self._bytes += sum(map(len, lines))
        if self._bytes >= self.rotate_bytes or time.monotonic() - self._started >= self.rotate_s:
            self.flush()

    def _payload(self) -> bytes:
        if self.fmt == "jsonl":
            return b"".join(self._lines)
        import io

        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist([{**r, "features": list(map(float, r["features"])),
                                       "outputs": list(map(float, r["outputs"]))} for r in self._rows])
        out = io.BytesIO()
        pq.write_table(table, out, **PARQUET_OPTIONS)
        return out.getvalue()

    def flush(self) -> None:
        if not self._lines:
            return
        name = f"{_stem(self.model, self.version, self._seq)}.{self.fmt}"
        self._seq += 1
        path = f"{self.root.rstrip('/')}/{name}"
        data = self._payload()
        if self.local:  # readers never see a half-written file
            tmp = f"{self.root.rstrip('/')}/.{name}.tmp"
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, path)
        else:
            self.fs.pipe_file(path, data)
        self.files.append(path)
        self._lines, self._rows, self._bytes = [], [], 0

    def close(self) -> None:
        self.flush()


def open_sink(sink: str, fmt: str, model: str, version: str, base: Path | None = None,
              rotate_bytes: int = ROTATE_BYTES, rotate_s: float = ROTATE_S) -> JsonlDirSink | SegmentSink:
    """A sink for ``prediction_log.sink``: a local directory (relative to ``base``) or an fsspec URL."""
    path = Path(sink) if "://" in sink or Path(sink).is_absolute() or base is None else base / sink
    try:
        if "://" in sink:
            return SegmentSink(sink, fmt, model, version, rotate_bytes, rotate_s)
        if fmt == "jsonl":
            return JsonlDirSink(path, model, version, rotate_bytes, rotate_s)
        return SegmentSink(str(path.resolve()), fmt, model, version, rotate_bytes, rotate_s)
    except (OSError, ValueError, ImportError) as exc:
        raise UserError.at("serving.prediction_log.sink", f"cannot open the prediction log at {path}: {exc}; "
                                                          "expected a writable directory or fsspec URL") from None


class PredictionLog:
    """Sample requests (``sample_rate``) into a buffer of ``capacity`` requests; a thread writes them out."""

    def __init__(self, sink: Sink | None, metrics: Metrics, *, model: str, version: str, sample_rate: float,
                 task: str = "classification", classes: Sequence[Any] = (), capacity: int = 10_000,
                 flush_s: float = 0.2) -> None:
        self.sink, self.metrics = sink, metrics
        self.model, self.version, self.task, self.classes = model, version, task, list(classes)
        self.sample_rate = sample_rate if sink is not None else 0.0
        self.capacity, self.flush_s = capacity, flush_s
        self._buf: deque[tuple[str, np.ndarray, np.ndarray, float]] = deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="mlops-predlog", daemon=True)
        self._random = random.Random()
        if self.sample_rate > 0:
            self._thread.start()

    def sampled(self) -> bool:
        return self.sample_rate >= 1.0 or (self.sample_rate > 0 and self._random.random() < self.sample_rate)

    def offer(self, request_id: str, x: np.ndarray, y: np.ndarray, ts: float) -> None:
        """Queue one request's rows for writing; never blocks. A full buffer drops them (and counts it)."""
        if len(self._buf) >= self.capacity:
            self.metrics.log_dropped.inc(len(x))
            return
        self._buf.append((request_id, x, y, ts))

    def _prediction(self, out: np.ndarray) -> Any:
        if self.task != "classification":
            return float(out[0])
        index = int(np.argmax(out))
        return self.classes[index] if index < len(self.classes) else index

    def _drain(self) -> None:
        items = []
        while self._buf:
            items.append(self._buf.popleft())
        if not items or self.sink is None:
            return
        rows: list[dict[str, Any]] = []
        lines: list[bytes] = []
        for n, (rid, x, y, ts) in enumerate(items, 1):
            stamp = iso(ts)
            for i in range(len(x)):
                row = {"request_id": rid, "row": i, "model": self.model, "version": self.version, "timestamp": stamp,
                       "features": x[i], "outputs": y[i], "prediction": self._prediction(y[i])}
                rows.append(row)
                lines.append(orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE))
            if n % 32 == 0:
                time.sleep(0)  # let the event loop have the GIL between chunks: no multi-ms stall
        try:
            self.sink.write(lines, rows)
            self.metrics.log_rows.inc(len(rows))
        except Exception:
            self.metrics.log_errors.inc()
            log.exception("prediction log: writing %d rows failed; they are lost", len(rows))

    def _main(self) -> None:
        while not self._stop.wait(self.flush_s):
            self._drain()

    def close(self) -> None:
        """Write what is buffered and close the sink."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)
        self._drain()
        if self.sink is not None:
            try:
                self.sink.close()
            except Exception:
                self.metrics.log_errors.inc()
                log.exception("prediction log: closing the sink failed")
