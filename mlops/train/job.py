"""One training run in its work directory: seed, build the user's network, fit, save ``final.pt``.

The same function runs in-process (one device) and in each ``torchrun`` worker (DDP); rank 0
writes the trained weights, the standardisation and the history to ``final.pt``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlops.core.spec.model import ModelSpec
from mlops.train import checkpoint, determinism, usercode
from mlops.train.data import Table
from mlops.train.loop import LoopConfig, fit
from mlops.train.progress import Reporter

JOB = "job.json"


@dataclass(frozen=True)
class FitJob:
    """Everything a worker needs, as JSON (``job.json`` in the run directory)."""

    root: str
    model: str
    model_py: str
    spec_json: str  # the effective ModelSpec (epochs override and reproduce settings applied)
    data_file: str
    run_dir: str
    device: str  # cpu | cuda
    precision: str  # fp32 | bf16 | fp16
    threads: int | None
    world_size: int = 1
    strict: bool = True
    bar: bool | None = None
    quiet: bool = False

    @property
    def spec(self) -> ModelSpec:
        return ModelSpec.model_validate_json(self.spec_json)

    def write(self) -> Path:
        path = Path(self.run_dir) / JOB
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True), "utf-8")
        return path

    @classmethod
    def read(cls, path: Path) -> FitJob:
        return cls(**json.loads(path.read_text("utf-8")))


def _standardised(table: Table, spec: ModelSpec) -> tuple[dict[str, np.ndarray], np.ndarray | None,
                                                          np.ndarray | None]:
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    parts = {name: table.part(name) for name in ("train", "validation")}
    out: dict[str, np.ndarray] = {}
    if spec.data.normalize == "standard":
        mean, std = table.standardisation()
    for name, (x, y) in parts.items():
        out[f"x_{name}"] = ((x - mean) / std).astype(np.float32) if mean is not None and std is not None else x
        out[f"y_{name}"] = y
    return out, mean, std


def _device(job: FitJob, rank: int) -> torch.device:
    if job.device == "cuda":
        index = int(os.environ.get("LOCAL_RANK", "0")) if job.world_size > 1 else 0
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    return torch.device("cpu")


def run_fit(job: FitJob, table: Table, reporter: Reporter | None = None, rank: int = 0) -> None:
    """Train, resuming from the run directory's checkpoint when there is one; rank 0 writes final.pt."""
    spec = job.spec
    run_dir = Path(job.run_dir)
    device = _device(job, rank)
    arrays, mean, std = _standardised(table, spec)
    strict = job.strict
    while True:
        determinism.configure(spec.training.seed, threads=job.threads, strict=strict)
        where = f"models/{job.model}/{spec.code}"
        net = usercode.build(job.model, Path(job.model_py), dict(spec.params), len(table.features),
                             table.n_outputs, where)
        cfg = LoopConfig(spec.training, spec.task, device, job.precision, spec.training.compile, run_dir,
                         rank, job.world_size, reporter)
        try:
            progress = fit(net, arrays["x_train"], arrays["y_train"], arrays["x_validation"],
                           arrays["y_validation"], cfg)
            break
        except RuntimeError as exc:
            if not (strict and determinism.is_nondeterminism_error(exc)):
                raise
            if reporter:
                reporter.log(f"an operation has no deterministic implementation ({exc}); training again "
                             "from the start without enforcing determinism")
            strict = False
            (run_dir / checkpoint.CHECKPOINT).unlink(missing_ok=True)
    if rank == 0:
        state: dict[str, Any] = {
            "model": {k: v.detach().cpu() for k, v in net.state_dict().items()},
            "progress": progress.to_state(), "deterministic": strict,
            "mean": torch.as_tensor(mean) if mean is not None else None,
            "std": torch.as_tensor(std) if std is not None else None,
        }
        checkpoint.save(run_dir / checkpoint.FINAL, state)
