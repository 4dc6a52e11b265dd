"""Delayed ground-truth labels, joined to the prediction log by request id.

The truth about a prediction often arrives later (a reviewer corrected it, a payment cleared). Give each
such label the ``id`` of the inference request it belongs to — the ``id`` the client sent, or the one the
server returned — and ingest the file with ``mlops labels ingest FILE --model M``.

**Label file format.** JSON lines (``.jsonl``, ``.ndjson``, ``.json``) or CSV with a header (``.csv``):

============  ========  ==============================================================================
field         required  meaning
============  ========  ==============================================================================
request_id    yes       the inference request's ``id`` (1–256 characters)
label         yes       classification: the true class (an integer such as ``7`` or a string such as
                        ``"cat"``); regression: the true value (a finite number)
timestamp     no        when the label became known: ISO 8601 (``2025-01-01T12:00:00Z``) or Unix
                        seconds; default: the time of ingestion
row           no        the sample's index inside a request that sent several rows (default ``0``)
============  ========  ==============================================================================

::

    {"request_id": "3f9c2a71-17", "label": 7, "timestamp": "2025-01-01T12:00:00Z"}

    request_id,label,timestamp
    3f9c2a71-17,7,2025-01-01T12:00:00Z

Every line is checked before anything is written; all problems are reported at once (``file:line:col``).
The labels are appended as one new normalised file ``labels-<model>-<UTC time>-<sha8>.jsonl`` in the sink
(default ``.mlops/labels/<model>`` in the repository; a directory or an fsspec URL). Ingesting the same
content twice is a no-op. When several files label the same ``(request_id, row)``, the latest wins.

``join_labels(predictions, labels)`` returns the prediction-log rows that have a label, each with
``label`` and ``label_timestamp`` added. Reading and joining are :mod:`mlops.adapters.sinks`'s
(``read_labels_table``, ``read_window``, ``join``: vectorised, what the monitor uses); the functions
here are thin wrappers for small logs and scripts.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from mlops.core.errors import Problem, UserError

MAX_PROBLEMS = 50
FIELDS = ("request_id", "label", "timestamp", "row")
Key = tuple[str, int]


@dataclass(frozen=True)
class Ingested:
    path: str
    count: int
    already: bool = False


def _fs(location: str | Path) -> tuple[Any, str]:
    import fsspec

    text = str(location)
    if "://" in text:
        fs, root = fsspec.core.url_to_fs(text)
        return fs, root
    return fsspec.filesystem("file"), str(Path(text).resolve())


def _timestamp(value: Any) -> str | None:
    """ISO 8601 UTC (milliseconds, ``Z``) of an ISO string or Unix seconds; None when unreadable."""
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            when = datetime.fromtimestamp(float(value), UTC)
        elif isinstance(value, str):
            text = value.strip()
            try:
                when = datetime.fromtimestamp(float(text), UTC)
            except ValueError:
                when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
                when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _label(value: Any, task: str, from_csv: bool) -> tuple[Any, str | None]:
    if task == "regression":
        try:
            number = float(value) if from_csv or not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or not math.isfinite(number):
            return None, f"label {value!r} is not a finite number; expected the true value (regression)"
        return number, None
    if from_csv and isinstance(value, str):
        text = value.strip()
        if not text:
            return None, "label is empty; expected the true class"
        try:
            return int(text), None
        except ValueError:
            return text, None
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        return None, f"label {value!r} is not a class; expected an integer or a string (classification)"
    return value, None


def _records(path: Path, display: str) -> Iterator[tuple[int, dict[str, Any] | None, str | None, bool]]:
    """(line, record, problem, from_csv) for each data line of a JSONL or CSV label file."""
    try:
        text = path.read_text("utf-8-sig")
    except FileNotFoundError:
        raise UserError(Problem(display, 1, 1, "file not found; expected a JSONL or CSV label file")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(Problem(display, 1, 1, f"cannot read the label file: {exc}")) from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        header = reader.fieldnames or []
        missing = [f for f in ("request_id", "label") if f not in header]
        unknown = [f for f in header if f not in FIELDS]
        if missing or unknown:
            what = f"missing column {missing[0]!r}" if missing else f"unknown column {unknown[0]!r}"
            raise UserError(Problem(display, 1, 1, f"{what}; expected a header of request_id,label"
                                                   "[,timestamp][,row]"))
        for item in reader:
            yield reader.line_num, {k: v for k, v in item.items() if v not in (None, "")}, None, True
        return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            yield number, None, f"not valid JSON ({exc.args[0].split(':')[0]}); expected one object per line", False
            continue
        if not isinstance(item, dict):
            yield number, None, "expected a JSON object with request_id and label", False
            continue
        yield number, item, None, False


def read_label_file(path: Path, task: str, display: str | None = None, now: str | None = None) -> list[dict[str, Any]]:
    """Validate every line; return normalised labels or raise one ``UserError`` listing every problem."""
    where = display or str(path)
    stamp = now or _timestamp(datetime.now(UTC).timestamp())
    problems: list[Problem] = []
    out: list[dict[str, Any]] = []
    first: dict[Key, int] = {}
    for line, item, problem, from_csv in _records(path, where):
        if len(problems) >= MAX_PROBLEMS:
            break
        if item is None:
            problems.append(Problem(where, line, 1, problem or "unreadable line"))
            continue
        unknown = sorted(set(item) - set(FIELDS))
        rid, ts, row = item.get("request_id"), item.get("timestamp"), item.get("row", 0)
        if unknown:
            problems.append(Problem(where, line, 1, f"unknown field {unknown[0]!r}; expected request_id, label, "
                                                    "timestamp, row"))
            continue
        if not isinstance(rid, str) or not 1 <= len(rid.strip()) <= 256:
            problems.append(Problem(where, line, 1, f"request_id {rid!r} is missing or not a string of 1–256 "
                                                    "characters; expected the inference request's id"))
            continue
        if "label" not in item:
            problems.append(Problem(where, line, 1, "label is missing; expected the true class or value"))
            continue
        label, bad = _label(item["label"], task, from_csv)
        if bad:
            problems.append(Problem(where, line, 1, bad))
            continue
        when = stamp if ts is None else _timestamp(ts)
        if when is None:
            problems.append(Problem(where, line, 1, f"timestamp {ts!r} is not ISO 8601 or Unix seconds; expected "
                                                    "e.g. 2025-01-01T12:00:00Z"))
            continue
        try:
            row = int(row) if from_csv or (isinstance(row, int) and not isinstance(row, bool)) else -1
        except ValueError:
            row = -1
        if row < 0:
            problems.append(Problem(where, line, 1, f"row {item.get('row')!r} is not an index; expected an "
                                                    "integer ≥ 0 (the sample's position in its request)"))
            continue
        key = (rid.strip(), row)
        if key in first:
            problems.append(Problem(where, line, 1, f"duplicate label for request {key[0]!r} row {row} (first "
                                                    f"on line {first[key]}); expected one label per sample"))
            continue
        first[key] = line
        out.append({"request_id": key[0], "row": row, "label": label, "timestamp": when})
    if problems:
        raise UserError(problems)
    if not out:
        raise UserError(Problem(where, 1, 1, "no labels in the file; expected one label per line"))
    return out


def ingest(path: Path, model: str, task: str, sink: str | Path, display: str | None = None) -> Ingested:
    """Validate ``path`` and append its labels to ``sink`` as one new file (idempotent by content)."""
    labels = read_label_file(path, task, display)
    payload = b"".join(orjson.dumps({**item, "model": model}, option=orjson.OPT_APPEND_NEWLINE)
                       for item in labels)
    digest = hashlib.sha256(orjson.dumps(sorted((i["request_id"], i["row"], i["label"]) for i in labels),
                                         default=str)).hexdigest()[:8]
    fs, root = _fs(sink)
    fs.makedirs(root, exist_ok=True)
    existing = [p for p in fs.glob(f"{root.rstrip('/')}/labels-{model}-*-{digest}.jsonl")]
    if existing:
        return Ingested(str(existing[0]), len(labels), already=True)
    name = f"labels-{model}-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{digest}.jsonl"
    target = f"{root.rstrip('/')}/{name}"
    tmp = f"{root.rstrip('/')}/.{name}.tmp"
    fs.pipe_file(tmp, payload)
    fs.mv(tmp, target)
    return Ingested(target, len(labels))


def read_labels(location: str | Path, model: str | None = None) -> dict[Key, tuple[Any, str | None]]:
    """(request_id, row) → (label, timestamp) over every ingested file; later files win.

    A thin wrapper over :func:`mlops.adapters.sinks.read_labels_table` (the one reader of label files)."""
    from mlops.adapters.sinks import read_labels_table

    table = read_labels_table(location, model)
    stamps = _iso(table["timestamp"])
    return {(rid, int(row)): (_py(label), stamp) for rid, row, label, stamp in
            zip(table["request_id"], table["row"], table["label"], stamps, strict=True)}


def join_labels(predictions: str | Path, labels: str | Path, model: str | None = None) -> list[dict[str, Any]]:
    """Prediction-log rows (every version of ``model``; every model when None) that have a label, as dicts
    with ``label`` and ``label_timestamp`` added, in time order.

    A thin wrapper over :func:`mlops.adapters.sinks.read_window` and :func:`~mlops.adapters.sinks.join`
    (the vectorised join the monitor uses), for small logs and scripts."""
    from mlops.adapters.sinks import join, read_labels_table, read_window

    window = read_window(predictions, model, None)
    joined = join(window, read_labels_table(labels, model))
    features = joined[list(window.features.columns)].to_numpy().tolist()
    outputs = window.outputs[joined["position"].to_numpy()].tolist() if window.outputs.size else [[]] * len(joined)
    stamps, label_stamps = _iso(joined["timestamp"]), _iso(joined["label_timestamp"])
    return [{"request_id": rid, "row": int(row), "model": _py(m), "version": _py(v), "timestamp": stamp,
             "features": feats, "outputs": outs, "prediction": _py(pred), "label": _py(label),
             "label_timestamp": label_stamp}
            for rid, row, m, v, stamp, feats, outs, pred, label, label_stamp in
            zip(joined["request_id"], joined["row"], joined["model"], joined["version"], stamps, features, outputs,
                joined["prediction"], joined["label"], label_stamps, strict=True)]


def _iso(stamps: Any) -> list[str | None]:
    """ISO 8601 UTC with milliseconds and ``Z`` (the log's own form) of a datetime column; None for NaT."""
    text = stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str.slice(0, 23) + "Z"
    return [None if isinstance(t, float) else t for t in text.tolist()]


def _py(value: Any) -> Any:
    """A numpy scalar as the Python value JSON would have given."""
    return value.item() if hasattr(value, "item") else value
