"""The labels table (latest label wins) and the vectorised join to a window on (request_id, row)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlops.adapters.sinks import join, read_labels_table, read_window
from mlops.serve.labels import ingest, join_labels, read_labels
from tests.unit.adapters.sinks.sinks_helpers import rows, write_segment

NAMES = ["a", "b", "c"]


def labels(tmp_path: Path, name: str, text: str, model: str = "m") -> None:
    path = tmp_path / name
    path.write_text(text)
    ingest(path, model, "classification", tmp_path / "labels")


def test_the_latest_label_of_a_key_wins_and_other_models_are_ignored(tmp_path: Path) -> None:
    labels(tmp_path, "a.csv", "request_id,label,timestamp\nr1,1,2025-01-01T00:00:00Z\nr2,2,2025-01-01T00:00:00Z\n")
    labels(tmp_path, "b.csv", "request_id,label,row\nr2,5,0\nr2,6,1\n")
    labels(tmp_path, "c.csv", "request_id,label\nr1,9\n", model="other")
    table = read_labels_table(tmp_path / "labels", "m")
    assert list(table.columns) == ["request_id", "row", "label", "timestamp"]
    assert sorted(zip(table["request_id"], table["row"], table["label"], strict=True)) == [
        ("r1", 0, 1), ("r2", 0, 5), ("r2", 1, 6)]
    assert str(table["timestamp"].dtype) == "datetime64[ms, UTC]" and table["label"].dtype == "int64"
    assert read_labels(tmp_path / "labels", "m")[("r1", 0)] == (1, "2025-01-01T00:00:00.000Z")
    assert read_labels_table(tmp_path / "nowhere", "m").empty


def test_join_keeps_window_order_and_latest_labels(tmp_path: Path) -> None:
    log = [*rows(6), {**rows(1, start=3)[0], "row": 1}]  # request r3 sent two rows
    write_segment(tmp_path / "p", log)
    labels(tmp_path, "a.jsonl", '{"request_id": "r4", "label": 0}\n{"request_id": "r1", "label": 1}\n'
                                '{"request_id": "r3", "row": 1, "label": 1}\n{"request_id": "gone", "label": 1}\n')
    labels(tmp_path, "b.jsonl", '{"request_id": "r4", "label": 1}\n')
    window = read_window(tmp_path / "p", "m", "v1", NAMES)
    joined = join(window, read_labels_table(tmp_path / "labels", "m"))
    assert list(zip(joined["request_id"], joined["row"], joined["label"], strict=True)) == [
        ("r1", 0, 1), ("r3", 1, 1), ("r4", 0, 1)]
    assert joined["position"].tolist() == [1, 4, 5]  # r3's second row sorts with its request
    assert joined.loc[0, NAMES].tolist() == [1.0, 1.5, 2.0] and (joined["prediction"] == [1, 1, 0]).all()
    assert set(joined.columns) >= {*NAMES, "timestamp", "version", "label", "label_timestamp"}
    assert joined["label_timestamp"].notna().all()
    assert join(window, read_labels_table(tmp_path / "none", "m")).empty


def test_join_labels_is_the_same_join_for_scripts(tmp_path: Path) -> None:
    write_segment(tmp_path / "p", rows(4), fmt="jsonl")
    labels(tmp_path, "a.csv", "request_id,label\nr2,0\nr0,1\n")
    out = join_labels(tmp_path / "p", tmp_path / "labels", "m")
    assert [(r["request_id"], r["label"], r["prediction"]) for r in out] == [("r0", 1, 0), ("r2", 0, 0)]
    assert out[0]["features"] == [0.0, 0.5, 1.0] and out[0]["outputs"] == [0.25, 0.75]
    assert out[0]["timestamp"] == "2025-01-01T12:00:00.000Z" and out[0]["version"] == "v1"
    assert isinstance(out[0]["row"], int) and isinstance(out[0]["label"], int)


def test_a_million_row_join_is_vectorised(tmp_path: Path) -> None:
    import time

    import numpy as np

    n = 200_000
    from mlops.adapters.sinks import SchemaReport, Window

    meta = pd.DataFrame({"request_id": [f"r{i}" for i in range(n)], "row": np.zeros(n, np.int64),
                         "timestamp": pd.Series(np.arange(n).astype("datetime64[ms]")).dt.tz_localize("UTC"),
                         "model": "m", "version": "v1", "prediction": np.arange(n) % 10})
    window = Window(pd.DataFrame({"a": np.arange(n, dtype=float)}), meta, np.zeros((n, 0)), n, n, n, 1,
                    SchemaReport(("a",)))
    truth = pd.DataFrame({"request_id": [f"r{i}" for i in range(0, n, 2)], "row": 0, "label": 3,
                          "timestamp": pd.Timestamp("2025-01-01", tz="UTC")})
    started = time.perf_counter()
    joined = join(window, truth)
    assert len(joined) == n // 2 and joined["a"].iloc[-1] == n - 2
    assert time.perf_counter() - started < 10  # row by row this is minutes; generous for a shared machine
