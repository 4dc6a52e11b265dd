"""Helpers for the render tests: pins, template overrides, version records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlops.core.spec.record import record_digest

V1 = "20250101-aaaaaaaa"
V2 = "20250102-bbbbbbbb"
IMAGE = "sha256:" + "1" * 64
ARTIFACT = "sha256:" + "a" * 64


def set_pins(repo: Path, env: str, pins: dict[str, Any]) -> None:
    """Replace the ``pins`` of ``environments/<env>.yaml`` (the rest of the file keeps its text)."""
    path = repo / "environments" / f"{env}.yaml"
    lines = [line for line in path.read_text("utf-8").splitlines() if not line.startswith("pins:")]
    lines.append("pins: " + yaml.safe_dump(pins, default_flow_style=True).strip())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def pin_example(repo: Path) -> Path:
    """The pins the golden files are rendered with: dev runs both models, prod pins images by digest."""
    set_pins(repo, "dev", {"digits-cnn": V2, "cancer-mlp": V1})
    set_pins(repo, "prod", {"digits-cnn": {"version": V1, "image": IMAGE}, "cancer-mlp": V1})
    return repo


def write_template(repo: Path, name: str, text: str) -> Path:
    path = repo / "environments" / "templates" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_record(repo: Path, model: str, version: str) -> Path:
    """A valid version record (as `mlops train` writes it) with artifact digest ``ARTIFACT``."""
    md5 = "da399c5958ea72e7011f9ec8b3fa1f5a.dir"
    body: dict[str, Any] = {
        "apiVersion": "mlops/v1", "kind": "VersionRecord", "model": model, "version": version,
        "created": "2025-01-01T00:00:00Z", "parent": None,
        "artifact": {"digest": ARTIFACT, "uri": f"dvc://artifacts/{model}/{version}",
                     "files": {"program.pt2": "sha256:" + "b" * 64}, "format": "torch.export"},
        "data": {"path": "data", "md5": md5, "rows": {"train": 100}},
        "code": {"commit": "0" * 40, "dirty": False, "model_py_sha256": "sha256:" + "c" * 64},
        "params": {}, "training": {"epochs": 1}, "seed": 1,
        "metrics": {"accuracy": 0.95, "macro_f1": 0.94, "log_loss": 0.2},
        "evaluation_data": {"path": "data", "md5": md5, "rows": {}}, "history": {},
        "environment": {"python": "3.11.7", "torch": "2.13.0", "cuda": None, "mlops": "0.1.0", "device": "cpu",
                        "cpu": "x86_64", "gpu": None, "runner": "local"},
        "duration_s": 1.5,
    }
    body["record_digest"] = record_digest(body)
    path = repo / "models" / model / "versions" / f"{version}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path
