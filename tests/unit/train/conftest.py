"""Fixtures for the training tests: a tiny exported artifact with its version record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mlops.adapters.artifacts.signature import Signature
from mlops.core.lineage import hash_artifact, version_id
from mlops.core.spec.record import VersionRecord, record_digest
from mlops.train.export import InferenceModule, export_program

N_FEATURES = 5


def tiny_record(model: str, directory: Path) -> VersionRecord:
    from datetime import UTC, datetime

    digest, files = hash_artifact(directory)
    data = {"path": "data/x.csv", "md5": "0" * 32 + ".dir", "rows": {"test": 3}}
    body = {
        "model": model, "version": version_id(digest, datetime(2025, 1, 2, tzinfo=UTC)),
        "created": "2025-01-02T00:00:00Z",
        "artifact": {"digest": digest, "uri": f"dvc://models/{model}/versions/x", "files": files},
        "data": data, "code": {"commit": "0" * 40, "model_py_sha256": "sha256:" + "1" * 64}, "seed": 1,
        "metrics": {"accuracy": 1.0}, "evaluation_data": data,
        "environment": {"python": "3.11", "torch": torch.__version__, "mlops": "0", "device": "cpu", "cpu": "x"},
        "duration_s": 1.0,
    }
    full = VersionRecord.model_validate({**body, "record_digest": "sha256:" + "0" * 64}).body()
    return VersionRecord.model_validate({**full, "record_digest": record_digest(full)})


@pytest.fixture
def tiny_artifact(tmp_path: Path) -> tuple[Path, VersionRecord]:
    """A real artifact (export of a 2-layer MLP with standardisation) and a record that matches it."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(N_FEATURES, 8), nn.ReLU(), nn.Linear(8, 3))
    module = InferenceModule(net, np.arange(N_FEATURES, dtype=np.float32), np.full(N_FEATURES, 2.0, np.float32))
    directory = tmp_path / "artifact"
    export_program(module, N_FEATURES, directory / "program.pt2")
    sig = Signature.build("tiny", "classification", "input", [f"f{i}" for i in range(N_FEATURES)], [0, 1, 2])
    (directory / "signature.json").write_text(sig.dumps(), "utf-8")
    (directory / "metrics.json").write_text('{"metrics": {"accuracy": 1.0}}\n', "utf-8")
    (directory / "MODEL_CARD.md").write_text("# tiny\n", "utf-8")
    return directory, tiny_record("tiny", directory)
