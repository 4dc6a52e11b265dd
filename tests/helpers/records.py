"""Valid version records (as `mlops train` writes them) for tests that need one without training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlops.core.spec.record import record_digest

DIGEST = "sha256:" + "a" * 64
DATA_MD5 = "da399c5958ea72e7011f9ec8b3fa1f5a.dir"


def record_body(model: str = "cancer-mlp", version: str = "20250101-aaaaaaaa", **changes: Any) -> dict[str, Any]:
    """A complete, valid version record (as `mlops train` writes it), with its ``record_digest``."""
    body: dict[str, Any] = {
        "apiVersion": "mlops/v1", "kind": "VersionRecord", "model": model, "version": version,
        "created": "2025-01-01T00:00:00Z", "parent": None,
        "artifact": {"digest": DIGEST, "uri": f"dvc://artifacts/{model}/{version}",
                     "files": {"program.pt2": "sha256:" + "b" * 64}, "format": "torch.export"},
        "data": {"path": "data", "md5": DATA_MD5, "rows": {"train": 100}},
        "code": {"commit": "0" * 40, "dirty": False, "model_py_sha256": "sha256:" + "c" * 64},
        "params": {"hidden": [32, 16]}, "training": {"epochs": 1}, "seed": 99,
        "metrics": {"accuracy": 0.95, "macro_f1": 0.94, "log_loss": 0.2},
        "evaluation_data": {"path": "data", "md5": DATA_MD5, "rows": {}}, "history": {},
        "environment": {"python": "3.11.7", "torch": "2.13.0", "cuda": None, "mlops": "0.1.0", "device": "cpu",
                        "cpu": "x86_64", "gpu": None, "runner": "local"},
        "duration_s": 1.5,
    }
    body.update(changes)
    body["record_digest"] = record_digest(body)
    return body


def write_record(repo: Path, model: str = "cancer-mlp", version: str = "20250101-aaaaaaaa", **changes: Any) -> Path:
    path = repo / "models" / model / "versions" / f"{version}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(record_body(model, version, **changes), sort_keys=False), encoding="utf-8")
    return path
