"""Delayed labels as a table, and their join to a window of logged predictions.

Label files are what ``mlops labels ingest`` writes (``mlops.serve.labels``): ``labels-<model>-<UTC>-<sha8>.jsonl``,
one normalised label per line with ``request_id``, ``row``, ``label``, ``timestamp`` and ``model``. Files are
read in name order (their UTC time of ingestion), so when several label the same ``(request_id, row)`` the
latest file wins. This is the one implementation: ``mlops.serve.labels.read_labels`` and ``join_labels``
are thin wrappers over it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

if TYPE_CHECKING:
    from pandas import DataFrame

    from mlops.adapters.sinks import Window
    from mlops.adapters.sinks.files import FsspecData

KEYS = ["request_id", "row"]
LABEL_COLUMNS = ["request_id", "row", "label", "timestamp"]


def _label_files(data: FsspecData, model: str | None) -> list[str]:
    data.fs.invalidate_cache(data.root)
    try:
        if not data.fs.exists(data.root):
            return []
        return sorted(data.fs.glob(f"{data.root}/labels-{model or '*'}-*.jsonl"),
                      key=lambda p: p.rsplit("/", 1)[-1])
    except FileNotFoundError:
        return []


def read_labels_table(data: FsspecData, model: str | None) -> DataFrame:
    """``request_id`` (str), ``row`` (int64), ``label`` (as ingested), ``timestamp`` (UTC): the latest label
    per ``(request_id, row)``, in the order of their files. Lines that are not labels are skipped."""
    import pandas as pd

    cols: dict[str, list[Any]] = {c: [] for c in LABEL_COLUMNS}
    for name in _label_files(data, model):
        for line in data.fs.cat_file(name).splitlines():
            try:
                item = orjson.loads(line)
                if model is not None and item.get("model") != model:
                    continue
                key = (str(item["request_id"]), int(item.get("row", 0)))
                label, stamp = item["label"], item.get("timestamp")
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                continue
            cols["request_id"].append(key[0])
            cols["row"].append(key[1])
            cols["label"].append(label)
            cols["timestamp"].append(stamp)
    frame = pd.DataFrame({"request_id": pd.Series(cols["request_id"], dtype=object),
                          "row": pd.Series(cols["row"], dtype="int64"),
                          "label": pd.Series(cols["label"], dtype=None if cols["label"] else object),
                          "timestamp": pd.to_datetime(pd.Series(cols["timestamp"], dtype=object), utc=True,
                                                      errors="coerce", format="ISO8601").astype("datetime64[ms, UTC]")})
    return frame.drop_duplicates(KEYS, keep="last").reset_index(drop=True)


def join_window(window: Window, labels: DataFrame) -> DataFrame:
    """See :func:`mlops.adapters.sinks.join`."""
    import pandas as pd

    keys = window.meta[KEYS].copy()
    keys["position"] = np.arange(len(keys), dtype=np.int64)
    right = labels[LABEL_COLUMNS].drop_duplicates(KEYS, keep="last").rename(columns={"timestamp": "label_timestamp"})
    right = right.astype({"request_id": object, "row": "int64"})
    matched = keys.merge(right, on=KEYS, how="inner", sort=False).sort_values("position", kind="stable")
    positions = matched["position"].to_numpy()
    return pd.concat([window.features.iloc[positions].reset_index(drop=True),
                      window.meta.iloc[positions].reset_index(drop=True),
                      matched[["label", "label_timestamp", "position"]].reset_index(drop=True)], axis=1)
