"""The prediction log: sampled, never blocking, bounded (drops are counted), rotated, local or fsspec."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import orjson
import pytest

from mlops.serve.metrics import Metrics
from mlops.serve.predlog import JsonlDirSink, PredictionLog, SegmentSink, open_sink


def metrics() -> Metrics:
    return Metrics("digits-cnn", "v1", "sha256:" + "0" * 64, 8)


def rows(n: int, width: int = 3) -> np.ndarray:
    return np.arange(n * width, dtype=np.float32).reshape(n, width)


def read_jsonl(directory: Path) -> list[dict]:
    return [orjson.loads(line) for path in sorted(directory.glob("*.jsonl")) for line in path.read_bytes().splitlines()]


def test_rows_carry_features_outputs_id_version_time_and_prediction(tmp_path: Path) -> None:
    m = metrics()
    log = PredictionLog(JsonlDirSink(tmp_path, "digits-cnn", "v1"), m, model="digits-cnn", version="v1",
                        sample_rate=1.0, classes=["a", "b"], flush_s=0.01)
    log.offer("req-1", rows(2), np.array([[0.1, 0.9], [0.8, 0.2]], np.float32), 1735732800.5)
    log.close()
    got = read_jsonl(tmp_path)
    assert got == [
        {"request_id": "req-1", "row": 0, "model": "digits-cnn", "version": "v1",
         "timestamp": "2025-01-01T12:00:00.500Z", "features": [0.0, 1.0, 2.0], "outputs": [0.1, 0.9],
         "prediction": "b"},
        {"request_id": "req-1", "row": 1, "model": "digits-cnn", "version": "v1",
         "timestamp": "2025-01-01T12:00:00.500Z", "features": [3.0, 4.0, 5.0], "outputs": [0.8, 0.2],
         "prediction": "a"},
    ]
    assert re.fullmatch(r"predictions-digits-cnn-v1-\d{8}T\d{6}Z-\d+\.[0-9a-f]{8}-0\.jsonl",
                        next(tmp_path.glob("*.jsonl")).name)
    assert "mlops_prediction_log_rows_total 2.0" in m.render().decode()


def test_regression_prediction_is_the_value(tmp_path: Path) -> None:
    log = PredictionLog(JsonlDirSink(tmp_path, "m", "v"), metrics(), model="m", version="v", sample_rate=1.0,
                        task="regression")
    log.offer("r", rows(1), np.array([[2.5]], np.float32), 0.0)
    log.close()
    assert read_jsonl(tmp_path)[0]["prediction"] == 2.5


@pytest.mark.parametrize(("rate", "low", "high"), [(0.0, 0, 0), (1.0, 1000, 1000), (0.2, 120, 280)])
def test_sampling_follows_the_rate(tmp_path: Path, rate: float, low: int, high: int) -> None:
    log = PredictionLog(JsonlDirSink(tmp_path, "m", "v"), metrics(), model="m", version="v", sample_rate=rate)
    assert low <= sum(log.sampled() for _ in range(1000)) <= high
    log.close()


def test_a_full_buffer_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    m = metrics()
    log = PredictionLog(JsonlDirSink(tmp_path, "m", "v"), m, model="m", version="v", sample_rate=1.0, capacity=3,
                        flush_s=60)
    for i in range(10):
        log.offer(f"r{i}", rows(2), rows(2, 2), 0.0)
    log.close()
    assert [r["request_id"] for r in read_jsonl(tmp_path)] == ["r0", "r0", "r1", "r1", "r2", "r2"]
    assert "mlops_prediction_log_dropped_total 14.0" in m.render().decode()


def test_jsonl_files_rotate_by_size_and_by_age(tmp_path: Path) -> None:
    sink = JsonlDirSink(tmp_path / "size", "m", "v", rotate_bytes=100)
    for _ in range(3):
        sink.write([b'{"x": "' + b"a" * 120 + b'"}\n'], [])
    sink.close()
    assert len(sink.files) == 3
    aged = JsonlDirSink(tmp_path / "age", "m", "v", rotate_s=0.0)
    aged.write([b"{}\n"], [])
    aged.write([b"{}\n"], [])
    aged.close()
    assert len(aged.files) == 2 and all(p.read_bytes() == b"{}\n" for p in aged.files)


def test_fsspec_url_gets_one_complete_object_per_segment() -> None:
    import fsspec

    sink = open_sink("memory://predlog-test/digits", "jsonl", "m", "v", rotate_bytes=1 << 20)
    assert isinstance(sink, SegmentSink)
    log = PredictionLog(sink, metrics(), model="m", version="v", sample_rate=1.0)
    log.offer("r1", rows(1), rows(1, 2), 0.0)
    log.close()
    fs = fsspec.filesystem("memory")
    (name,) = fs.ls("/predlog-test/digits", detail=False)
    assert name.endswith(".jsonl") and orjson.loads(fs.cat_file(name))["request_id"] == "r1"


def test_parquet_in_a_local_directory(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="format parquet is optional and needs pyarrow")
    sink = open_sink("preds", "parquet", "m", "v", base=tmp_path)
    log = PredictionLog(sink, metrics(), model="m", version="v", sample_rate=1.0)
    log.offer("r1", rows(2), rows(2, 2), 0.0)
    log.close()
    (path,) = (tmp_path / "preds").glob("*.parquet")
    table = pq.read_table(path).to_pylist()
    assert [(r["request_id"], r["row"], r["features"]) for r in table] == [("r1", 0, [0.0, 1.0, 2.0]),
                                                                          ("r1", 1, [3.0, 4.0, 5.0])]
    assert not list((tmp_path / "preds").glob(".*.tmp"))


def test_relative_sinks_resolve_against_the_base(tmp_path: Path) -> None:
    sink = open_sink(".mlops/predictions", "jsonl", "m", "v", base=tmp_path)
    assert isinstance(sink, JsonlDirSink) and sink.directory == tmp_path / ".mlops" / "predictions"


def test_an_unwritable_sink_is_a_user_error(tmp_path: Path) -> None:
    from mlops.core.errors import UserError

    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match=r"cannot open the prediction log at .*file/sub"):
        open_sink("file/sub", "jsonl", "m", "v", base=tmp_path)
    with pytest.raises(UserError, match="cannot open the prediction log"):
        open_sink("nosuchprotocol://x", "jsonl", "m", "v")
