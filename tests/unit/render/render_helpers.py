"""Helpers for the render tests: pins, template overrides, version records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.helpers import records

V1 = "20250101-aaaaaaaa"
V2 = "20250102-bbbbbbbb"
IMAGE = "sha256:" + "1" * 64
ARTIFACT = "sha256:" + "a" * 64
REPO_URL = "https://github.com/example/mlops-gitops.git"  # what `mlops render` passes: the clone's remote


def set_pins(repo: Path, env: str, pins: dict[str, Any]) -> None:
    """Replace the ``pins`` of ``environments/<env>.yaml`` (the rest of the file keeps its text)."""
    _replace_section(repo, env, "pins", pins)


def _replace_section(repo: Path, env: str, key: str, value: Any) -> None:
    """Drop top-level ``key`` (and its indented lines) from the environment file; append it as one flow line."""
    path = repo / "environments" / f"{env}.yaml"
    kept, skipping = [], False
    for line in path.read_text("utf-8").splitlines():
        if line.startswith(f"{key}:"):
            skipping = True
            continue
        if skipping and (line.startswith((" ", "#")) or not line.strip()):
            continue
        skipping = False
        kept.append(line)
    kept.append(f"{key}: " + yaml.safe_dump(value, default_flow_style=True, width=10_000).strip())
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")


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
    artifact = {"digest": ARTIFACT, "uri": f"dvc://artifacts/{model}/{version}",
                "files": {"program.pt2": "sha256:" + "b" * 64}, "format": "torch.export"}
    return records.write_record(repo, model, version, artifact=artifact, params={}, seed=1)



def set_monitoring(repo: Path, env: str, monitoring: dict[str, Any]) -> None:
    """Replace the ``monitoring`` section of ``environments/<env>.yaml`` (one flow mapping at the end)."""
    _replace_section(repo, env, "monitoring", monitoring)


PROD_MONITORING = {"predictions": "s3://mlops-prod-data/predictions", "labels": "s3://mlops-prod-data/labels",
                   "credentials_secret": "mlops-prod-sinks"}


def set_delivery(repo: Path, env: str, delivery: dict[str, Any]) -> None:
    """Replace the ``delivery`` section of ``environments/<env>.yaml`` (written as one flow mapping at the end)."""
    _replace_section(repo, env, "delivery", delivery)
