"""Training as one process of a ``torchrun`` group (DDP).

Two ways in: ``mlops train`` launches ``torchrun … -m mlops.train.worker RUN_DIR/job.json`` on one
machine when ``training.gpus`` > 1; or ``mlops train`` itself runs under ``torchrun`` (the Kubernetes
training Job, several nodes) and calls :func:`fit_in_group` directly. Either way every rank fits and
rank 0 writes ``final.pt``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from mlops.core import yamlpos
from mlops.train.data import Table, load_table
from mlops.train.job import FitJob, run_fit
from mlops.train.progress import Reporter


@dataclass(frozen=True)
class GroupEnv:
    """What ``torchrun`` tells each process: its global rank, the world size, its local rank."""

    rank: int
    world_size: int
    local_rank: int


def group_env() -> GroupEnv | None:
    """The torchrun group this process belongs to, or None when it runs alone."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return None
        return GroupEnv(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    except (KeyError, ValueError):
        return None


def fit_in_group(job: FitJob, table: Table, reporter: Reporter | None) -> int:
    """Join the process group, fit as this rank, wait for every rank; returns this process's rank."""
    import torch
    import torch.distributed as dist

    dist.init_process_group(backend="nccl" if job.device == "cuda" and torch.cuda.is_available() else "gloo")
    try:
        rank = dist.get_rank()
        run_fit(job, table, reporter if rank == 0 else None, rank=rank)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    return rank


def main(argv: list[str]) -> int:
    job = FitJob.read(Path(argv[0]))
    spec = job.spec
    rel = f"models/{job.model}/model.yaml"
    doc = yamlpos.load(Path(job.root) / rel, rel)
    table = load_table(Path(job.data_file), spec, doc)
    fit_in_group(job, table, Reporter(job.model, bar=job.bar, quiet=job.quiet))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
