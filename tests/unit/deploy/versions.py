"""Recorded versions for build-image tests: an artifact directory and its version record.

The artifact has the files of docs/ARTIFACT.md; its program bytes are opaque here (nothing loads them
in these tests), and the record is written the way training writes it: digests from
``mlops.core.lineage`` and ``record_digest`` over the canonical body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from mlops.core.lineage import hash_artifact, version_id
from mlops.core.spec.record import record_digest

CREATED = "2025-01-02T03:04:05Z"


@dataclass
class Version:
    repo: Path
    model: str
    version: str
    artifact: Path
    digest: str
    record_file: Path

    @property
    def ref(self) -> str:
        return f"{self.model}@{self.version}"


def write_artifact(directory: Path, model: str, program: bytes = b"opaque program bytes\n") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "program.pt2").write_bytes(program)
    signature = {"model": model, "task": "classification",
                 "input": {"name": "input", "datatype": "FP32", "shape": [-1, 64]},
                 "output": {"name": "output", "datatype": "FP32", "shape": [-1, 10]},
                 "features": [f"pixel_{i}" for i in range(64)], "classes": list(range(10))}
    (directory / "signature.json").write_text(json.dumps(signature, indent=2, sort_keys=True) + "\n")
    (directory / "metrics.json").write_text('{"accuracy": 0.95}\n')
    (directory / "MODEL_CARD.md").write_text(f"# {model}\n\nA test artifact.\n")


def record_version(repo: Path, model: str, artifact: Path, created: str = CREATED) -> Version:
    """Write ``models/<model>/versions/<version>.yaml`` for ``artifact`` as training would."""
    from datetime import datetime

    digest, files = hash_artifact(artifact)
    version = version_id(digest, datetime.fromisoformat(created.replace("Z", "+00:00")))
    data = {"path": "data/digits/digits.csv", "md5": "0" * 32 + ".dir", "rows": {"test": 360}}
    body = {
        "apiVersion": "mlops/v1", "kind": "VersionRecord", "model": model, "version": version, "created": created,
        "parent": None,
        "artifact": {"digest": digest, "uri": f"dvc://artifacts/{model}/{version}", "files": files,
                     "format": "torch.export"},
        "data": data, "code": {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False,
                                "model_py_sha256": "sha256:" + "1" * 64},
        "params": {"channels": 16}, "training": {"epochs": 1}, "seed": 1234, "metrics": {"accuracy": 0.95},
        "evaluation_data": data, "history": {},
        "environment": {"python": "3.11.7", "torch": "2.13.0+cpu", "cuda": None, "mlops": "0.1.0", "device": "cpu",
                        "cpu": "test cpu", "gpu": None, "runner": "local"},
        "duration_s": 1.5,
    }
    body["record_digest"] = record_digest(body)
    record_file = repo / "models" / model / "versions" / f"{version}.yaml"
    record_file.parent.mkdir(parents=True, exist_ok=True)
    record_file.write_text(yaml.safe_dump(body, sort_keys=False))
    return Version(repo, model, version, artifact, digest, record_file)
