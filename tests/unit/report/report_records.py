"""Shared test data for the report tests: hand-written records (from tests/unit/evaluate/eval_records.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / "evaluate" / "eval_records.py"
_spec = importlib.util.spec_from_file_location("eval_records", _PATH)
assert _spec is not None and _spec.loader is not None
if "eval_records" not in sys.modules:
    sys.modules["eval_records"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["eval_records"])
_records = sys.modules["eval_records"]

DATA_MD5: str = _records.DATA_MD5
record_body = _records.record_body
write_record = _records.write_record
pin = _records.pin
