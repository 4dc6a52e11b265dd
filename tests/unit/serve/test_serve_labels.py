"""Delayed labels: validated line by line, appended idempotently, joined to predictions by request id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from mlops.core.errors import UserError
from mlops.serve.labels import ingest, join_labels, read_label_file, read_labels
from mlops.serve.metrics import Metrics
from mlops.serve.predlog import JsonlDirSink, PredictionLog


def write(path: Path, text: str) -> Path:
    path.write_text(text, "utf-8")
    return path


def problems(path: Path, task: str = "classification") -> list[str]:
    with pytest.raises(UserError) as info:
        read_label_file(path, task, display=path.name)
    return [str(p) for p in info.value.problems]


def test_jsonl_and_csv_normalise_to_the_same_labels(tmp_path: Path) -> None:
    jsonl = write(tmp_path / "l.jsonl", '{"request_id": "a", "label": 7, "timestamp": "2025-01-01T12:00:00Z"}\n'
                                        '\n{"request_id": "b", "label": "cat", "timestamp": 1735732800, "row": 2}\n')
    csv = write(tmp_path / "l.csv", "request_id,label,timestamp,row\na,7,2025-01-01T13:00:00+01:00,\n"
                                    "b,cat,1735732800,2\n")
    expected = [{"request_id": "a", "row": 0, "label": 7, "timestamp": "2025-01-01T12:00:00.000Z"},
                {"request_id": "b", "row": 2, "label": "cat", "timestamp": "2025-01-01T12:00:00.000Z"}]
    assert read_label_file(jsonl, "classification") == expected
    assert read_label_file(csv, "classification") == expected
    assert read_label_file(write(tmp_path / "r.csv", "request_id,label\nx,2.5\n"), "regression",
                           now="T")[0] == {"request_id": "x", "row": 0, "label": 2.5, "timestamp": "T"}


def test_every_bad_line_is_reported_with_its_line_number(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.jsonl", "\n".join([
        '{"request_id": "ok", "label": 1}',
        '{"request_id": "", "label": 1}',
        '{"label": 1}',
        '{"request_id": "x"}',
        '{"request_id": "y", "label": true}',
        '{"request_id": "z", "label": 1, "timestamp": "yesterday"}',
        '{"request_id": "w", "label": 1, "row": -1}',
        '{"request_id": "ok", "label": 2}',
        '{"request_id": "v", "label": 1, "score": 0.3}',
        "not json",
        "[1, 2]",
    ]))
    assert problems(path) == [
        "bad.jsonl:2:1: request_id '' is missing or not a string of 1–256 characters; expected the inference "
        "request's id",
        "bad.jsonl:3:1: request_id None is missing or not a string of 1–256 characters; expected the inference "
        "request's id",
        "bad.jsonl:4:1: label is missing; expected the true class or value",
        "bad.jsonl:5:1: label True is not a class; expected an integer or a string (classification)",
        "bad.jsonl:6:1: timestamp 'yesterday' is not ISO 8601 or Unix seconds; expected e.g. 2025-01-01T12:00:00Z",
        "bad.jsonl:7:1: row -1 is not an index; expected an integer ≥ 0 (the sample's position in its request)",
        "bad.jsonl:8:1: duplicate label for request 'ok' row 0 (first on line 1); expected one label per sample",
        "bad.jsonl:9:1: unknown field 'score'; expected request_id, label, timestamp, row",
        "bad.jsonl:10:1: not valid JSON (Expecting value); expected one object per line",
        "bad.jsonl:11:1: expected a JSON object with request_id and label",
    ]


def test_csv_header_and_regression_values_are_checked(tmp_path: Path) -> None:
    assert problems(write(tmp_path / "h.csv", "id,label\na,1\n")) == [
        "h.csv:1:1: missing column 'request_id'; expected a header of request_id,label[,timestamp][,row]"]
    assert problems(write(tmp_path / "r.csv", "request_id,label\na,abc\nb,inf\n"), "regression") == [
        "r.csv:2:1: label 'abc' is not a finite number; expected the true value (regression)",
        "r.csv:3:1: label 'inf' is not a finite number; expected the true value (regression)"]
    assert problems(write(tmp_path / "empty.jsonl", "\n")) == [
        "empty.jsonl:1:1: no labels in the file; expected one label per line"]


def test_ingest_appends_a_new_file_once_and_latest_labels_win(tmp_path: Path) -> None:
    sink = tmp_path / "labels"
    first = ingest(write(tmp_path / "a.csv", "request_id,label\nr1,1\nr2,2\n"), "m", "classification", sink)
    again = ingest(tmp_path / "a.csv", "m", "classification", sink)
    assert first.count == 2 and not first.already and again.already and again.path == first.path
    ingest(write(tmp_path / "b.csv", "request_id,label\nr2,5\n"), "m", "classification", sink)
    ingest(write(tmp_path / "c.csv", "request_id,label\nr9,0\n"), "other", "classification", sink)
    assert len(list(sink.glob("labels-*.jsonl"))) == 3 and not list(sink.glob(".*"))
    assert {k: v[0] for k, v in read_labels(sink, "m").items()} == {("r1", 0): 1, ("r2", 0): 5}


def test_join_matches_prediction_rows_by_request_id_and_row(tmp_path: Path) -> None:
    preds = tmp_path / "predictions"
    log = PredictionLog(JsonlDirSink(preds, "m", "v1"), Metrics("m", "v1", "sha256:" + "0" * 64, 4), model="m",
                        version="v1", sample_rate=1.0, classes=[0, 1])
    log.offer("r1", np.zeros((1, 2), np.float32), np.array([[0.2, 0.8]], np.float32), 0.0)
    log.offer("r2", np.ones((2, 2), np.float32), np.array([[0.9, 0.1], [0.3, 0.7]], np.float32), 0.0)
    log.offer("r3", np.ones((1, 2), np.float32), np.array([[0.9, 0.1]], np.float32), 0.0)
    log.close()
    with next(preds.glob("*.jsonl")).open("ab") as fh:
        fh.write(b'{"request_id": "half-writ')  # a writer died mid-line: skipped
    ingest(write(tmp_path / "l.jsonl", '{"request_id": "r1", "label": 1}\n{"request_id": "r2", "row": 1, '
                                       '"label": 0}\n{"request_id": "unknown", "label": 1}\n'),
           "m", "classification", tmp_path / "labels")
    rows = join_labels(preds, tmp_path / "labels", model="m")
    assert [(r["request_id"], r["row"], r["prediction"], r["label"]) for r in rows] == [("r1", 0, 1, 1),
                                                                                       ("r2", 1, 1, 0)]
    assert all(r["version"] == "v1" and len(r["features"]) == 2 and r["label_timestamp"] for r in rows)
    assert join_labels(tmp_path / "nowhere", tmp_path / "labels") == []


def test_labels_on_an_fsspec_url(tmp_path: Path) -> None:
    done = ingest(write(tmp_path / "l.jsonl", '{"request_id": "r1", "label": 3}\n'), "m", "classification",
                  "memory://labels-test/m")
    assert done.path.startswith("/labels-test/m/labels-m-")
    assert read_labels("memory://labels-test/m", "m") == {("r1", 0): (3, read_labels("memory://labels-test/m")[
        ("r1", 0)][1])}
    assert orjson.loads((tmp_path / "l.jsonl").read_bytes())["label"] == 3
