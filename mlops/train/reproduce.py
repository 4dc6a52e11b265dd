"""``mlops reproduce MODEL@VERSION``: re-train from the version record alone and compare digests.

The record fixes the task, data section, params, training settings, seed, threads and number of
processes; ``model.yaml`` only supplies the parts that do not change the weights (serving and
monitoring). Inputs that the record pins but this checkout may have changed — the data version,
``model.py``, the commit, Python and torch, the device — are compared and listed, so a mismatch
comes with its likely explanation. On CPU, the same inputs give the same digest, byte for byte.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mlops.core.provenance import spec_from_record
from mlops.core.spec.record import VersionRecord
from mlops.train import checkpoint, facts
from mlops.train.context import prepare, software
from mlops.train.progress import Reporter
from mlops.train.train import build_artifact


@dataclass(frozen=True)
class Reproduction:
    model: str
    version: str
    expected: str
    actual: str
    differences: list[str]
    metrics: dict[str, float]

    @property
    def identical(self) -> bool:
        return self.expected == self.actual

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "identical": self.identical,
                "expected_digest": self.expected, "actual_digest": self.actual,
                "differences": self.differences, "metrics": self.metrics}


def input_differences(record: VersionRecord, data_md5: str, code: facts.CodeFacts, device: str) -> list[str]:
    env, now = record.environment, software()
    found: list[str] = []

    def differ(what: str, then: object, current: object) -> None:
        if then != current:
            found.append(f"{what}: recorded {then}, now {current}")

    differ("data version (data.dvc md5)", record.data.md5, data_md5)
    differ("model.py sha256", record.code.model_py_sha256, code.model_py_sha256)
    differ("code commit", record.code.commit, code.commit)
    differ("python", env.python, now["python"])
    differ("torch", env.torch, now["torch"])
    differ("device", env.device, device)
    if env.device == "cuda" and device == "cuda":
        differ("CUDA", env.cuda, now["cuda"])
        differ("GPU", env.gpu, torch.cuda.get_device_name(0))
    if not env.deterministic:
        found.append("the recorded run could not enforce deterministic algorithms")
    return found


def reproduce(root: Path, target: str, *, quiet: bool = False, bar: bool | None = None) -> Reproduction:
    from mlops.core.repo import load_repository, parse_ref

    root = root.resolve()
    model, version = parse_ref(target)
    repo = load_repository(root, only_models={model})
    loaded = repo.require_record((model, version))
    repo.require_valid()
    record = loaded.spec
    spec = spec_from_record(repo.model(model), record)
    reporter = Reporter(model, bar=bar, quiet=quiet)
    env = record.environment
    device = env.device if env.device == "cpu" or torch.cuda.is_available() else "cpu"
    ctx = prepare(root, model, spec, repo.models[model].doc, device=device, processes=env.processes,
                  threads=env.threads, reporter=reporter)
    differences = input_differences(record, ctx.data_md5, ctx.code, ctx.placement.device)
    runs = root / checkpoint.RUNS / model
    runs.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"reproduce-{version}-", dir=runs))
    try:
        reporter.log(f"re-training {model}@{version} from its record")
        built = build_artifact(ctx, work, work / "artifact")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if built.digest != record.artifact.digest:
        changed = sorted(n for n in set(built.files) | set(record.artifact.files)
                         if built.files.get(n) != record.artifact.files.get(n))
        differences.append(f"artifact files that differ: {', '.join(changed)}")
    return Reproduction(model, version, record.artifact.digest, built.digest, differences, built.metrics)
