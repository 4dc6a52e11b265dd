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


def trained_bundle(root: Path, model: str, version: str, out: Path, *, metrics: dict[str, float] | None = None,
                   program: bytes = b"opaque program bytes\n", **changes: Any) -> Path:
    """What a training job hands over for ``model`` at the checkout ``root``: a record stating exactly the
    checkout's inputs (spec, model.py, data version) and its artifact files, under ``out/models/…``."""
    import hashlib

    from mlops.core.dvcmeta import data_version
    from mlops.core.lineage import hash_artifact
    from mlops.core.provenance import spec_inputs
    from mlops.core.repo import load_repository
    from mlops.train.record import finalize

    spec = load_repository(root, only_models={model}).model(model)
    model_py = "sha256:" + hashlib.sha256((root / "models" / model / spec.code).read_bytes()).hexdigest()
    inputs = spec_inputs(spec, model_py, data_version(root))
    artifact = out / "models" / model / "versions" / version
    artifact.mkdir(parents=True, exist_ok=True)
    (artifact / "program.pt2").write_bytes(program)
    (artifact / "metrics.json").write_text('{"metrics": {}}\n')
    digest, files = hash_artifact(artifact)
    fields: dict[str, Any] = {
        "artifact": {"digest": digest, "uri": f"dvc://models/{model}/versions/{version}", "files": files,
                     "format": "torch.export-pt2"},
        "task": inputs["task"], "data_spec": inputs["data_spec"], "params": inputs["params"],
        "training": inputs["training"], "data": {"path": spec.data.path, "md5": inputs["data_md5"],
                                                 "rows": {"train": 100}},
        "code": {"commit": "0" * 40, "dirty": False, "model_py_sha256": model_py},
        "metrics": metrics or {"accuracy": 0.95, "macro_f1": 0.94, "log_loss": 0.2}}
    body = record_body(model, version, **{**fields, **changes})
    body.pop("record_digest")
    _, text = finalize(body)
    (artifact.parent / f"{version}.yaml").write_text(text, encoding="utf-8")
    return artifact.parent / f"{version}.yaml"
