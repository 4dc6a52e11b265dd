"""``models/<name>/versions/<version>.yaml``: the immutable record of one trained version.

Git is the model registry. A record is written once by ``mlops train`` and never edited: it carries a
``record_digest`` over its own canonical content, so an edited record fails validation.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import Field

from mlops.core.spec.types import DnsLabel, Sha256, Strict, VersionId


class Artifact(Strict):
    digest: Sha256 = Field(description="sha256 over the artifact directory's manifest (see mlops.core.lineage)")
    uri: str = Field(description="where the artifact lives, e.g. dvc://models/<model>/versions/<version>")
    files: dict[str, Sha256] = Field(description="file name → sha256 of each file in the artifact")
    format: str = Field("torch.export-pt2", description="program.pt2 (torch.export) + signature, metrics, card")


class DataVersion(Strict):
    path: str
    md5: str = Field(description="DVC md5 of the tracked data/ directory (from data.dvc)")
    rows: dict[str, int] = Field(default_factory=dict)


class Code(Strict):
    commit: str
    dirty: bool = False
    model_py_sha256: Sha256


class Environment_(Strict):
    python: str
    torch: str
    cuda: str | None = None
    mlops: str
    device: str
    cpu: str
    gpu: str | None = None
    runner: str = "local"
    threads: int | None = Field(None, description="torch intra-op threads used for training (reproduce uses them)")
    precision: str = "fp32"
    processes: int = Field(1, ge=1, description="training processes (DDP world size)")
    deterministic: bool = Field(True, description="torch deterministic algorithms were enforced")


class SliceMetrics(Strict):
    """One slice of ``evaluation.slices`` on the test split: its rows, each metric, and the metric's 95 %
    interval (percentile bootstrap over the slice's rows; none for an empty slice)."""

    rows: int = Field(ge=0)
    metrics: dict[str, float] = Field(default_factory=dict)
    intervals: dict[str, list[float]] = Field(default_factory=dict, description="metric → [low, high]")


class VersionRecord(Strict):
    apiVersion: str = "mlops/v1"  # the YAML key
    kind: str = "VersionRecord"
    model: DnsLabel
    version: VersionId
    created: str
    parent: VersionId | None = None
    artifact: Artifact
    task: str | None = None
    data: DataVersion
    data_spec: dict[str, Any] = Field(default_factory=dict, description="model.yaml's data section trained with "
                                      "(features, label, split, normalize): with params and training, "
                                      "what `mlops reproduce` re-trains from")
    code: Code
    params: dict[str, Any] = Field(default_factory=dict)
    training: dict[str, Any] = Field(default_factory=dict)
    seed: int
    metrics: dict[str, float]
    evaluation_data: DataVersion
    history: dict[str, list[float]] = Field(default_factory=dict)
    slices: dict[str, SliceMetrics] = Field(default_factory=dict, description="per slice of evaluation.slices: "
                                            "rows, metrics and intervals on the test split (absent before slices)")
    environment: Environment_
    duration_s: float
    record_digest: Sha256

    def body(self) -> dict[str, Any]:
        """The record without its digest; ``slices`` only when there are any (records of models without slices
        read and hash exactly as before slices existed)."""
        return self.model_dump(mode="json", exclude={"record_digest"} | (set() if self.slices else {"slices"}))


def record_digest(body: dict[str, Any]) -> str:
    """sha256 over the canonical JSON of a record without its ``record_digest`` field."""
    canonical = json.dumps({k: v for k, v in body.items() if k != "record_digest"}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
