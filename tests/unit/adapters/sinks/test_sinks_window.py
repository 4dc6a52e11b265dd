"""The window reader: last N rows, since, seeded samples, schema mismatches, empty sinks, corrupt files."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from mlops.adapters.sinks import read_window
from mlops.serve.metrics import Metrics
from mlops.serve.predlog import JsonlDirSink, PredictionLog, SegmentSink
from tests.unit.adapters.sinks.sinks_helpers import T0, first_feature, request_ids, rows, write_segment

NAMES = ["a", "b", "c"]
HOUR = 3600.0


@pytest.fixture(params=["parquet", "jsonl"])
def fmt(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def three_segments(directory: Path, fmt: str) -> None:
    for seq in range(3):  # rows 0-9, 10-19, 20-29, one second apart in segments an hour apart
        write_segment(directory, rows(10, start=10 * seq, t0=T0 + HOUR * seq), fmt=fmt, seq=seq)


def test_the_last_rows_across_segments_in_time_order(tmp_path: Path, fmt: str) -> None:
    three_segments(tmp_path, fmt)
    window = read_window(tmp_path, "m", "v1", NAMES, rows=12)
    assert request_ids(window) == [f"r{i}" for i in range(18, 30)]
    assert window.features.columns.tolist() == NAMES
    assert window.features.loc[0].tolist() == [18.0, 18.5, 19.0]
    assert (window.total, window.kept, window.files) == (12, 12, 2)  # the oldest segment is never opened
    assert window.start == datetime.fromtimestamp(T0 + HOUR + 18, UTC)
    assert window.end == datetime.fromtimestamp(T0 + 2 * HOUR + 29, UTC)
    assert window.meta["timestamp"].is_monotonic_increasing and window.meta["prediction"].tolist()[:2] == [0, 1]
    assert window.outputs.shape == (12, 2) and window.schema.ok and not window.problems
    assert list(window.meta.columns) == ["request_id", "row", "timestamp", "model", "version", "prediction"]


def test_everything_when_no_bound_is_given_and_more_rows_than_logged(tmp_path: Path, fmt: str) -> None:
    three_segments(tmp_path, fmt)
    assert request_ids(read_window(tmp_path, "m", "v1", NAMES)) == [f"r{i}" for i in range(30)]
    window = read_window(tmp_path, "m", "v1", NAMES, rows=1000)
    assert (window.total, window.kept, window.files, window.scanned) == (30, 30, 3, 30)


def test_since_keeps_later_rows_and_never_opens_older_segments(tmp_path: Path, fmt: str) -> None:
    three_segments(tmp_path, fmt)
    old = sorted(tmp_path.iterdir())[0]
    old.write_bytes(b"not a segment any more")  # would be a problem if it were opened
    os.utime(old, (T0 + 10, T0 + 10))  # written an hour before `since` (beyond the clock-skew margin)
    since = datetime.fromtimestamp(T0 + HOUR + 15, UTC)
    window = read_window(tmp_path, "m", "v1", NAMES, since=since)
    assert request_ids(window) == [f"r{i}" for i in range(15, 30)] and not window.problems
    both = read_window(tmp_path, "m", "v1", NAMES, since=since, rows=4)
    assert request_ids(both) == ["r26", "r27", "r28", "r29"]
    naive = read_window(tmp_path, "m", "v1", NAMES, since=since.replace(tzinfo=None))  # naive means UTC
    assert request_ids(naive) == request_ids(window)
    assert read_window(tmp_path, "m", "v1", NAMES, since=since + timedelta(days=1)).kept == 0


def test_a_seeded_sample_is_deterministic_ordered_and_inside_the_window(tmp_path: Path, fmt: str) -> None:
    three_segments(tmp_path, fmt)
    one = read_window(tmp_path, "m", "v1", NAMES, rows=20, sample=5, seed=7)
    two = read_window(tmp_path, "m", "v1", NAMES, rows=20, sample=5, seed=7)
    other = read_window(tmp_path, "m", "v1", NAMES, rows=20, sample=5, seed=8)
    assert request_ids(one) == request_ids(two) != request_ids(other)
    assert (one.total, one.kept) == (20, 5)
    assert set(request_ids(one)) <= {f"r{i}" for i in range(10, 30)}
    assert list(first_feature(one)) == sorted(first_feature(one))  # time order is kept
    assert np.array_equal(first_feature(one), [float(r[1:]) for r in request_ids(one)])  # values follow their rows
    assert read_window(tmp_path, "m", "v1", NAMES, rows=3, sample=5).kept == 3  # smaller than the sample: all


def test_parquet_row_groups_are_read_only_where_chosen_rows_are(tmp_path: Path) -> None:
    write_segment(tmp_path, rows(1000), row_group_size=64)
    window = read_window(tmp_path, "m", "v1", NAMES, sample=50, seed=3)
    assert np.array_equal(first_feature(window), [float(r[1:]) for r in request_ids(window)])
    assert window.features["c"].tolist() == [v + 1.0 for v in first_feature(window)]


@pytest.mark.parametrize(("width", "missing", "extra"), [(2, ("c",), 0), (5, (), 2)])
def test_a_feature_missing_or_extra_in_the_log_is_reported_not_raised(tmp_path: Path, fmt: str, width: int,
                                                                      missing: tuple[str, ...], extra: int) -> None:
    write_segment(tmp_path, rows(6, width=3), fmt=fmt, seq=0)
    write_segment(tmp_path, rows(4, start=6, width=width), fmt=fmt, seq=1)
    window = read_window(tmp_path, "m", "v1", NAMES)
    assert request_ids(window) == [f"r{i}" for i in range(6)]  # the mismatched rows are left out
    assert (window.total, window.kept) == (10, 6)
    schema = window.schema
    assert not schema.ok and schema.missing == missing and schema.extra == extra and schema.rows_left_out == 4
    assert schema.widths == {3: 6, width: 4}
    assert any("do not match the signature's 3 features" in p for p in window.problems)


def test_an_empty_or_missing_sink_is_an_empty_window(tmp_path: Path) -> None:
    for location in (tmp_path / "nowhere", tmp_path):
        window = read_window(location, "m", "v1", NAMES, rows=10, sample=5)
        assert (window.kept, window.total, window.files) == (0, 0, 0)
        assert window.features.columns.tolist() == NAMES and window.features.empty and window.meta.empty
    (tmp_path / "notes.txt").write_text("not a segment")
    write_segment(tmp_path, rows(3), model="other")
    assert read_window(tmp_path, "m", "v1", NAMES).kept == 0


def test_corrupt_segments_and_bad_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    write_segment(tmp_path, rows(5), seq=0)
    broken = write_segment(tmp_path, rows(5, start=5), seq=1)
    broken.write_bytes(broken.read_bytes()[: len(broken.read_bytes()) // 2])  # truncated upload
    lines = write_segment(tmp_path, rows(5, start=10), fmt="jsonl", seq=2)
    text = lines.read_bytes().splitlines(keepends=True)
    lines.write_bytes(b"".join(text[:2]) + b"{not json\n" + b"".join(text[2:]) + b'{"request_id": "half')
    window = read_window(tmp_path, "m", "v1", NAMES)
    assert request_ids(window) == [f"r{i}" for i in [0, 1, 2, 3, 4, 10, 11, 12, 13, 14]]
    assert any(broken.name in p and "unreadable" in p for p in window.problems)
    assert any(lines.name in p and "1 unreadable line" in p for p in window.problems)


def test_a_model_whose_name_prefixes_another_gets_only_its_own_rows(tmp_path: Path, fmt: str) -> None:
    write_segment(tmp_path, rows(3, model="digits", version="v1"), fmt=fmt, model="digits", version="v1")
    write_segment(tmp_path, rows(4, rid="c", model="digits-cnn", version="v1"), fmt=fmt, model="digits-cnn",
                  version="v1")
    assert request_ids(read_window(tmp_path, "digits", None, NAMES)) == ["r0", "r1", "r2"]
    assert read_window(tmp_path, "digits-cnn", "v1", NAMES).kept == 4
    assert read_window(tmp_path, None, None, NAMES).kept == 7


def test_what_serving_writes_reads_back_the_same_in_both_formats(tmp_path: Path) -> None:
    windows = []
    for fmt in ("jsonl", "parquet"):
        sink = JsonlDirSink(tmp_path / fmt, "m", "v1") if fmt == "jsonl" else \
            SegmentSink(str(tmp_path / fmt), fmt, "m", "v1")
        log = PredictionLog(sink, Metrics("m", "v1", "sha256:" + "0" * 64, 4), model="m", version="v1",
                            sample_rate=1.0, classes=["no", "yes"])
        for i in range(20):
            log.offer(f"q{i}", np.full((2, 3), i, np.float32), np.array([[0.5, 0.25], [0.0, 1.0]], np.float32),
                      T0 + i)
        log.close()
        windows.append(read_window(tmp_path / fmt, "m", "v1", NAMES, rows=10, sample=6, seed=1))
    jsonl, parquet = windows
    assert jsonl.features.equals(parquet.features) and jsonl.meta.equals(parquet.meta)
    assert np.array_equal(jsonl.outputs, parquet.outputs)
    assert set(jsonl.meta["prediction"]) <= {"no", "yes"} and set(jsonl.meta["row"]) <= {0, 1}


def test_a_memory_url_and_bad_arguments(tmp_path: Path) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    path = write_segment(tmp_path, rows(4))
    fs.pipe_file(f"/sinks-test/{path.name}", path.read_bytes())
    assert request_ids(read_window("memory://sinks-test", "m", "v1", NAMES, rows=2)) == ["r2", "r3"]
    with pytest.raises(ValueError, match="at least 1"):
        read_window(tmp_path, "m", "v1", NAMES, rows=0)


def test_a_segment_that_vanishes_between_the_two_reads_is_reported(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from mlops.adapters.sinks.files import FsspecData, SegmentError

    write_segment(tmp_path, rows(5), seq=0)
    gone = write_segment(tmp_path, rows(5, start=5), seq=1)
    real = FsspecData.read

    def read(self: FsspecData, segment: object, columns: list[str], positions: object = None) -> object:
        if positions is not None and getattr(segment, "name", "") == gone.name:
            raise SegmentError(f"{gone.name}: unreadable (FileNotFoundError: expired)")
        return real(self, segment, columns, positions)  # type: ignore[arg-type]

    monkeypatch.setattr(FsspecData, "read", read)
    window = read_window(tmp_path, "m", "v1", NAMES)
    assert request_ids(window) == [f"r{i}" for i in range(5)] and (window.total, window.kept) == (10, 5)
    assert any("expired" in p and "between the two reads" in p for p in window.problems)
    assert window.frame().columns.tolist() == [*NAMES, "request_id", "row", "timestamp", "model", "version",
                                               "prediction"]


def test_features_that_are_not_numbers_are_reported(tmp_path: Path) -> None:
    write_segment(tmp_path, rows(3), seq=0)
    write_segment(tmp_path, [{**r, "features": ["x", "y", "z"]} for r in rows(2, start=3)], fmt="jsonl", seq=1)
    window = read_window(tmp_path, "m", "v1", NAMES)
    assert request_ids(window) == ["r0", "r1", "r2"] and window.total == 5
    assert any("unreadable" in p for p in window.problems)
