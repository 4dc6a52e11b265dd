"""Helpers of the sink tests: prediction-log segments written as ``mlops.serve.predlog`` writes them."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from mlops.serve.predlog import iso

T0 = 1735732800.0  # 2025-01-01T12:00:00Z


def rows(n: int, *, start: int = 0, width: int = 3, t0: float = T0, step: float = 1.0, model: str = "m",
         version: str = "v1", rid: str = "r") -> list[dict[str, Any]]:
    """``n`` log rows: request ``<rid><i>``, features ``[i, i + 0.5, …]``, one row per request, ``step`` s apart."""
    out = []
    for i in range(start, start + n):
        out.append({"request_id": f"{rid}{i}", "row": 0, "model": model, "version": version,
                    "timestamp": iso(t0 + i * step), "features": [float(i) + k / 2 for k in range(width)],
                    "outputs": [0.25, 0.75], "prediction": i % 2})
    return out


def write_segment(directory: Path, data: list[dict[str, Any]], *, fmt: str = "parquet", seq: int = 0,
                  model: str = "m", version: str = "v1", mtime: float | None = None,
                  row_group_size: int | None = None) -> Path:
    """One segment file; its modification time is the last row's time (+1 s) unless ``mtime`` says."""
    directory.mkdir(parents=True, exist_ok=True)
    last = max((datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")).timestamp() for r in data),
               default=T0)
    stamp = datetime.fromtimestamp(last + 1, UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"predictions-{model}-{version}-{stamp}-1.0a0b0c0d-{seq}.{fmt}"
    if fmt == "jsonl":
        path.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in data))
    else:
        out = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(data), out, row_group_size=row_group_size)
        path.write_bytes(out.getvalue())
    when = last + 1 if mtime is None else mtime
    os.utime(path, (when, when))
    return path


def request_ids(window: Any) -> list[str]:
    return list(window.meta["request_id"])


def first_feature(window: Any) -> np.ndarray:
    return window.features.iloc[:, 0].to_numpy()
