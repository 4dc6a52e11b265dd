"""Helpers of the monitor's tests: a real digits-cnn version trained on nothing, and production traffic for it.

A version is a real ``torch.export`` program (``tests.helpers.serve.build_artifact``) in a directory store, with a
record naming the repository's real data version (so the monitor finds its training rows through DVC) and the
metrics the test wants to compare live performance with. Traffic is the version's own predictions on rows the
test chooses, written by the serving runtime's own prediction-log sink (one JSONL segment per call), with the
request ids that delayed labels join on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from tests.helpers.serve import FEATURES, build_artifact

MODEL = "digits-cnn"


@dataclass(frozen=True)
class Version:
    version: str
    store: Path


def digits_version(repo: Path, seed: int, *, metrics: dict[str, float]) -> Version:
    """A digits-cnn version in ``repo/.mlops/store`` whose record names the repository's data version."""
    from mlops.core.dvcmeta import data_version
    from mlops.core.lineage import hash_artifact, version_id
    from mlops.train.record import finalize

    staging = repo / ".mlops" / "store" / f"seed-{seed}"
    staging.mkdir(parents=True)
    build_artifact(staging, seed=seed)
    digest, files = hash_artifact(staging)
    version = version_id(digest, datetime(2026, 1, 1, tzinfo=UTC))
    target = repo / ".mlops" / "store" / MODEL / version
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(target)
    data = {"path": "data/digits/digits.csv", "md5": data_version(repo), "rows": {"train": 1000}}
    body = {
        "model": MODEL, "version": version, "created": "2026-01-01T00:00:00Z",
        "artifact": {"digest": digest, "uri": target.as_uri(), "files": files, "format": "torch.export-pt2"},
        "data": data, "evaluation_data": data, "seed": seed, "metrics": metrics, "duration_s": 1.0,
        "code": {"commit": "0" * 40, "dirty": False, "model_py_sha256": "sha256:" + "0" * 64},
        "environment": {"python": "3.11", "torch": "2.13.0", "mlops": "0.1.0", "device": "cpu", "cpu": "test"},
    }
    _, text = finalize(body)
    (repo / "models" / MODEL / "versions").mkdir(parents=True, exist_ok=True)
    (repo / "models" / MODEL / "versions" / f"{version}.yaml").write_text(text, "utf-8")
    return Version(version, target)


def digits_table(repo: Path) -> tuple[np.ndarray, np.ndarray]:
    """The repository's digits rows (features, labels), read through DVC's cache."""
    import pandas as pd

    from mlops.adapters.artifacts import data_file_at
    from mlops.core.dvcmeta import data_version

    frame = pd.read_csv(data_file_at(repo, data_version(repo), "data/digits/digits.csv"))
    return frame[FEATURES].to_numpy(np.float32), frame["digit"].to_numpy()


def log_traffic(repo: Path, sink: str, v: Version, x: np.ndarray, *, start: datetime, prefix: str) -> list[str]:
    """Predict ``x`` with the version and log every row as the server does; returns the request ids."""
    from mlops.adapters.artifacts.loader import load_verified
    from mlops.core.repo import load_repository
    from mlops.serve.predlog import JsonlDirSink, iso

    record = load_repository(repo, only_models={MODEL}).records[MODEL][v.version].spec
    outputs = load_verified(v.store, record).predict(x)
    ids = [f"{prefix}-{i}" for i in range(len(x))]
    lines = []
    for i, (rid, row, out) in enumerate(zip(ids, x, outputs, strict=True)):
        ts = (start + timedelta(milliseconds=10 * i)).timestamp()
        lines.append(orjson.dumps({"request_id": rid, "row": 0, "model": MODEL, "version": v.version,
                                   "timestamp": iso(ts), "features": row.tolist(), "outputs": out.tolist(),
                                   "prediction": int(out.argmax())}, option=orjson.OPT_APPEND_NEWLINE))
    directory = Path(sink) if Path(sink).is_absolute() else repo / sink
    writer = JsonlDirSink(directory, MODEL, v.version)
    writer.write(lines, [])
    writer.close()
    return ids


def labels_file(path: Path, ids: list[str], labels: Any) -> Path:
    path.write_text("request_id,label\n" + "".join(f"{i},{int(y)}\n" for i, y in zip(ids, labels, strict=True)))
    return path
