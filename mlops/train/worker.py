"""Entry point of each ``torchrun`` process: ``python -m mlops.train.worker RUN_DIR/job.json``."""

from __future__ import annotations

import sys
from pathlib import Path

from mlops.core import yamlpos
from mlops.train.data import load_table
from mlops.train.job import FitJob, run_fit
from mlops.train.progress import Reporter


def main(argv: list[str]) -> int:
    import torch
    import torch.distributed as dist

    job = FitJob.read(Path(argv[0]))
    dist.init_process_group(backend="nccl" if job.device == "cuda" and torch.cuda.is_available() else "gloo")
    try:
        rank = dist.get_rank()
        spec = job.spec
        rel = f"models/{job.model}/model.yaml"
        doc = yamlpos.load(Path(job.root) / rel, rel)
        table = load_table(Path(job.data_file), spec, doc)
        reporter = Reporter(job.model, bar=job.bar, quiet=job.quiet or rank != 0)
        run_fit(job, table, reporter, rank=rank)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
