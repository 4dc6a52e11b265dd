"""Multi-process training (DDP + DistributedSampler under torchrun): two gloo processes on CPU here,
NCCL on GPUs where a machine has them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mlops.train.reproduce import reproduce
from mlops.train.train import TrainOptions, train
from tests.integration.test_train_cli import git, repo_fixture  # noqa: F401 - the repo fixture


@pytest.mark.slow
def test_two_cpu_processes_train_and_reproduce(repo: Path) -> None:
    result = train(repo, "cancer-mlp", TrainOptions(epochs=2, device="cpu", processes=2, threads=1, push=False,
                                                    quiet=True))
    assert result is not None and result.created and result.record is not None
    env = result.record.environment
    assert env.processes == 2 and env.device == "cpu" and env.threads == 1
    assert len(result.record.history["train_loss"]) == 2
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "record")
    again = reproduce(repo, f"cancer-mlp@{result.version}", quiet=True)
    assert again.identical, again.differences


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices for DDP over NCCL")
def test_two_gpus_train_with_nccl(repo: Path) -> None:
    spec = repo / "models/digits-cnn/model.yaml"
    spec.write_text(spec.read_text().replace("  seed: 1234\n", "  seed: 1234\n  gpus: 2\n"))
    result = train(repo, "digits-cnn", TrainOptions(epochs=2, push=False, quiet=True))
    assert result is not None and result.record is not None
    assert result.record.environment.processes == 2 and result.record.environment.device == "cuda"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_one_gpu_trains_with_autocast(repo: Path) -> None:
    result = train(repo, "digits-cnn", TrainOptions(epochs=2, device="cuda", push=False, quiet=True))
    assert result is not None and result.record is not None
    env = result.record.environment
    assert env.device == "cuda" and env.gpu and env.cuda
    assert env.precision == ("bf16" if torch.cuda.is_bf16_supported() else "fp32")
    assert result.metrics["accuracy"] > 0.5


@pytest.mark.slow
def test_mlops_train_inside_torchrun_records_once(repo: Path) -> None:
    """How the Kubernetes training Job runs it: `torchrun … -m mlops train MODEL --backend local`."""
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                           "-m", "mlops", "train", "cancer-mlp", "--repo", str(repo), "--backend", "local",
                           "--epochs", "1", "--device", "cpu", "--threads", "1", "--no-push"],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1", "CI": "true"},
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(" recorded: ") == 1  # rank 0 only
    records = list((repo / "models/cancer-mlp/versions").glob("*.yaml"))
    assert len(records) == 1 and "processes: 2" in records[0].read_text()
