"""Window reader benchmark: the monitor's read of 1,000,000 logged predictions × 64 features.

    .venv/bin/python benchmarks/bench_window.py                 # 1M rows, Parquet and JSONL: ~3 minutes
    .venv/bin/python benchmarks/bench_window.py --rows 200000   # quicker

Writes a prediction log as ``mlops serve`` does — segments named ``predictions-<model>-<version>-…`` with the
schema of ``mlops.serve.predlog.SegmentSink`` (checked against a segment the real sink writes), one segment per
``--segment-rows`` rows (about what one 16 MB rotation holds), standard-normal float32 features, 10 outputs — in
Parquet and in JSON lines, then reads it with :func:`mlops.adapters.sinks.read_window` in fresh child processes.
Each child reports the read's own time; its peak RSS comes from ``wait4`` (``ru_maxrss``), and an import-only
child gives the interpreter + pandas + pyarrow baseline. Reads: every row (no sampling), the last 100,000 rows,
and a seeded 5,000-row sample of every row.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL, VERSION = "bench", "20250101-abcd1234"
T0 = 1735732800.0


def _schema() -> Any:
    """The Arrow schema the serving runtime's Parquet sink writes (from a real segment)."""
    import numpy as np
    import pyarrow.parquet as pq

    from mlops.serve.metrics import Metrics
    from mlops.serve.predlog import PredictionLog, SegmentSink

    with tempfile.TemporaryDirectory() as tmp:
        sink = SegmentSink(tmp, "parquet", MODEL, VERSION)
        log = PredictionLog(sink, Metrics(MODEL, VERSION, "sha256:" + "0" * 64, 4), model=MODEL, version=VERSION,
                            sample_rate=1.0, classes=list(range(10)))
        log.offer("r", np.zeros((1, 64), np.float32), np.zeros((1, 10), np.float32), T0)
        log.close()
        return pq.read_schema(sink.files[0])


def write_log(directory: Path, rows: int, features: int, segment_rows: int, fmt: str) -> float:
    """Standard-normal features and random outputs, segment by segment (never all in memory); its size in GB."""
    import numpy as np

    rng = np.random.default_rng(0)

    def batches() -> Iterator[tuple[Any, Any]]:
        for start in range(0, rows, segment_rows):
            n = min(segment_rows, rows - start)
            yield rng.standard_normal((n, features)).astype(np.float32), rng.random((n, 10), np.float32)

    return log_segments(directory, MODEL, VERSION, batches(), fmt)


def log_segments(directory: Path, model: str, version: str, batches: Iterable[tuple[Any, Any]],
                 fmt: str = "parquet") -> float:
    """A prediction log as the serving runtime writes it: one segment per ``(features, outputs)`` batch (float32,
    as served), with the sink's file names, schema (checked for 64 features) and Parquet options, request ids
    ``req-<n>``, a timestamp every 10 ms from ``T0`` and each file's mtime at its last row. Its size in GB."""
    import numpy as np
    import orjson
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlops.serve.predlog import PARQUET_OPTIONS

    directory.mkdir(parents=True, exist_ok=True)
    schema = None
    start = 0
    for seq, (x32, y32) in enumerate(batches):
        n, features = x32.shape
        if schema is None and fmt == "parquet" and features == 64:
            schema = _schema()
        x, y = x32.astype(np.float64), y32.astype(np.float64)
        stamps = [time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T0 + (start + i) / 100)) +
                  f".{int((start + i) % 100 * 10):03d}Z" for i in range(n)]
        ids = [f"req-{start + i:09d}" for i in range(n)]
        pred = y.argmax(1)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(T0 + (start + n) / 100))
        path = directory / f"predictions-{model}-{version}-{stamp}-1.0badc0de-{seq}.{fmt}"
        if fmt == "parquet":
            table = pa.table({
                "request_id": ids, "row": pa.array(np.zeros(n, np.int64)), "model": [model] * n,
                "version": [version] * n, "timestamp": stamps,
                "features": pa.FixedSizeListArray.from_arrays(x.reshape(-1), features).cast(pa.list_(pa.float64())),
                "outputs": pa.FixedSizeListArray.from_arrays(y.reshape(-1), y.shape[1]).cast(pa.list_(pa.float64())),
                "prediction": pa.array(pred.astype(np.int64))})
            if schema is not None:
                assert table.schema.equals(schema), f"{table.schema} != the sink's {schema}"
            out = io.BytesIO()
            pq.write_table(table, out, **PARQUET_OPTIONS)  # what the sink writes with
            path.write_bytes(out.getvalue())
        else:
            with path.open("wb") as fh:
                for i in range(n):
                    fh.write(orjson.dumps({"request_id": ids[i], "row": 0, "model": model, "version": version,
                                           "timestamp": stamps[i], "features": x32[i], "outputs": y32[i],
                                           "prediction": int(pred[i])},
                                          option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE))
        start += n
        last = T0 + start / 100
        os.utime(path, (last, last))
    return sum(p.stat().st_size for p in directory.iterdir()) / 1e9


def child(location: str, features: int, rows: int | None, sample: int | None) -> None:
    import fsspec  # noqa: F401  (imports are not the read: the baseline child measures them)
    import pandas  # noqa: F401
    import pyarrow.json
    import pyarrow.parquet  # noqa: F401

    import mlops.adapters.sinks.window  # noqa: F401
    from mlops.adapters.sinks import read_window

    if location == "-":  # the import-only baseline
        print(json.dumps({"read_s": 0.0, "kept": 0, "total": 0, "files": 0}))
        return
    t0 = time.perf_counter()
    window = read_window(location, MODEL, VERSION, [f"pixel_{i}" for i in range(features)], rows=rows,
                         sample=sample, seed=0)
    took = time.perf_counter() - t0
    assert window.features.shape == (window.kept, features) and not window.problems, window.problems
    print(json.dumps({"read_s": took, "kept": window.kept, "total": window.total, "files": window.files}))


def measure(location: str, features: int, rows: int | None, sample: int | None) -> dict[str, Any]:
    """A fresh child: the read's own time, the child's wall time and peak RSS (``wait4``)."""
    cmd = [sys.executable, __file__, "--child", location, "--features", str(features),
           "--window", str(rows or 0), "--sample", str(sample or 0)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.stdout.close()
    assert os.waitstatus_to_exitcode(status) == 0, out
    return {**json.loads(out), "wall_s": time.perf_counter() - t0, "cpu_s": usage.ru_utime + usage.ru_stime,
            "rss_gb": usage.ru_maxrss / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--segment-rows", type=int, default=25_000)
    parser.add_argument("--formats", default="parquet,jsonl")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--window", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.features, args.window or None, args.sample or None)
        return
    base = measure("-", args.features, None, None)
    print(f"import-only child: {base['wall_s']:.2f} s (CPU {base['cpu_s']:.1f} s), peak RSS {base['rss_gb']:.2f} GB")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.formats.split(","):
            t0 = time.perf_counter()
            size = write_log(Path(tmp) / fmt, args.rows, args.features, args.segment_rows, fmt)
            print(f"{fmt}: wrote {args.rows:,} rows × {args.features} in {args.rows // args.segment_rows} segments, "
                  f"{size:.2f} GB, {time.perf_counter() - t0:.0f} s")
            for label, rows, sample in [("every row", args.rows, None), ("last 100,000", 100_000, None),
                                        ("sample 5,000 of every row", args.rows, 5_000)]:
                got = measure(str(Path(tmp) / fmt), args.features, rows, sample)
                results.append({"format": fmt, "window": label, **got})
                print(f"  {label:<26} read {got['read_s']:6.2f} s  child {got['wall_s']:6.2f} s "
                      f"(CPU {got['cpu_s']:5.1f} s)  "
                      f"peak RSS {got['rss_gb']:.2f} GB  (kept {got['kept']:,} of {got['total']:,}, "
                      f"{got['files']} segments opened)")
    print(json.dumps({"rows": args.rows, "features": args.features, "baseline": base, "results": results}))


if __name__ == "__main__":
    main()
