"""Version records written by hand (no training needed) and pins, for the evaluate, report and delivery tests."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from mlops.core.spec.record import VersionRecord
from mlops.train.record import finalize

DATA_MD5 = "da399c5958ea72e7011f9ec8b3fa1f5a.dir"


def record_body(model: str, version: str, metrics: dict[str, float], *, created: str = "2025-01-02T00:00:00Z",
                md5: str = DATA_MD5, params: dict[str, Any] | None = None,
                history: dict[str, list[float]] | None = None) -> dict[str, Any]:
    digest = "sha256:" + hashlib.sha256(version.encode()).hexdigest()
    data = {"path": "data/digits/digits.csv", "md5": md5, "rows": {"train": 1257, "validation": 181, "test": 359}}
    return {
        "model": model, "version": version, "created": created,
        "artifact": {"digest": digest, "uri": f"dvc://models/{model}/versions/{version}",
                     "files": {"program.pt2": digest}},
        "data": data, "code": {"commit": "0" * 40, "model_py_sha256": "sha256:" + "1" * 64},
        "params": params or {"channels": 16}, "training": {"epochs": 8}, "seed": 1, "metrics": metrics,
        "evaluation_data": data, "history": history or {},
        "environment": {"python": "3.11", "torch": "2.13.0", "mlops": "0.1.0", "device": "cpu", "cpu": "x"},
        "duration_s": 1.0,
    }


def write_record(root: Path, body: dict[str, Any]) -> VersionRecord:
    record, text = finalize(body)
    path = root / "models" / record.model / "versions" / f"{record.version}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return record


def pin(root: Path, env: str, model: str, version: str) -> None:
    path = root / "environments" / f"{env}.yaml"
    text = path.read_text("utf-8")
    assert "pins: {}" in text
    path.write_text(text.replace("pins: {}", f"pins: {{{model}: {version}}}"), "utf-8")
