"""Everything a run needs, resolved and checked before any training starts."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

import mlops
from mlops.adapters.artifacts import data_changed, ensure_data
from mlops.core.dvcmeta import data_version
from mlops.core.errors import UserError
from mlops.core.spec.model import ModelSpec
from mlops.core.yamlpos import Document
from mlops.train import facts
from mlops.train.checkpoint import run_key
from mlops.train.data import Table, load_table
from mlops.train.progress import Reporter
from mlops.train.worker import group_env


@dataclass(frozen=True)
class Placement:
    """Where and how the run executes: device, precision, processes, threads."""

    device: str  # cpu | cuda
    precision: str  # fp32 | bf16 | fp16
    world_size: int
    threads: int

    def describe(self) -> str:
        gpus = f" × {self.world_size} processes" if self.world_size > 1 else ""
        return f"{self.device}{gpus}, {self.precision}, {self.threads} threads"


@dataclass(frozen=True)
class Context:
    root: Path
    model: str
    spec: ModelSpec
    doc: Document
    model_py: Path
    data_file: Path
    data_md5: str
    table: Table
    code: facts.CodeFacts
    placement: Placement
    reporter: Reporter

    def run_inputs(self) -> dict[str, Any]:
        """What decides the trained weights: a rerun with the same inputs resumes the same run."""
        p = self.placement
        return {"spec": self.spec.model_dump(mode="json", include={"task", "data", "params", "training"}),
                "data_md5": self.data_md5, "model_py": self.code.model_py_sha256, "torch": torch.__version__,
                "mlops": mlops.__version__, "device": p.device, "precision": p.precision, "world": p.world_size,
                "threads": p.threads}

    def run_key(self) -> str:
        return run_key(self.run_inputs())


def with_epochs(spec: ModelSpec, epochs: int | None) -> ModelSpec:
    if epochs is None:
        return spec
    training = spec.training.model_copy(update={"epochs": epochs})
    return spec.model_copy(update={"training": training})


def place(spec: ModelSpec, doc: Document, device: str | None, processes: int | None,
          threads: int | None) -> Placement:
    """Resolve device (auto → CUDA when present), AMP precision and the number of processes."""
    wanted = device or spec.training.device
    cuda = torch.cuda.is_available()
    if wanted == "cuda" and not cuda:
        where = ("training", "device")
        raise UserError(doc.problem(where, "training asks for device 'cuda' but no CUDA device is available; "
                                           "expected 'auto' or 'cpu' on this machine (or run on a GPU runner)"))
    use = "cuda" if wanted == "cuda" or (wanted == "auto" and cuda) else "cpu"
    precision = spec.training.precision
    if use == "cpu":
        precision = "fp32"
    elif precision == "auto":
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    world = processes or 1
    if processes is None and use == "cuda" and spec.training.gpus > 1 and torch.cuda.device_count() > 1:
        world = min(spec.training.gpus, torch.cuda.device_count())
    return Placement(use, precision, world, threads or torch.get_num_threads())


def prepare(root: Path, model: str, spec: ModelSpec, doc: Document, *, device: str | None = None,
            processes: int | None = None, threads: int | None = None, reporter: Reporter) -> Context:
    """Pull and check the data, hash the code, resolve the placement; every problem before training."""
    model_py = root / "models" / model / spec.code
    if not model_py.is_file():
        raise UserError(doc.problem(("code",), f"user code models/{model}/{spec.code} does not exist"))
    data_file = root / spec.data.path
    group = group_env()
    if not ensure_data(root, spec.data.path, wait_s=600.0 if group is not None and group.local_rank else 0.0):
        raise UserError(doc.problem(("data", "path"), f"{spec.data.path} is not in the data DVC tracks "
                                                      "(data.dvc); expected the file there after `dvc pull`"))
    data_md5 = data_version(root)
    changed = data_changed(root, spec.data.path, data_md5)
    if changed:
        raise UserError(doc.problem(("data", "path"), changed))
    table = load_table(data_file, spec, doc)
    placement = place(spec, doc, device, processes, threads)
    if spec.training.precision in ("bf16", "fp16") and placement.device == "cpu":
        reporter.log(f"training.precision {spec.training.precision} applies on CUDA only; training in fp32 on CPU")
    return Context(root, model, spec, doc, model_py, data_file, data_md5, table,
                   facts.code_facts(root, model_py), placement, reporter)


def software() -> dict[str, Any]:
    return {"python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.version.cuda if torch.cuda.is_available() else None, "mlops": mlops.__version__}

