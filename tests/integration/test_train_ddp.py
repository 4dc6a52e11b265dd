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
    assert result.created and result.record is not None
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
    assert result.record is not None
    assert result.record.environment.processes == 2 and result.record.environment.device == "cuda"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_one_gpu_trains_with_autocast(repo: Path) -> None:
    result = train(repo, "digits-cnn", TrainOptions(epochs=2, device="cuda", push=False, quiet=True))
    assert result.record is not None
    env = result.record.environment
    assert env.device == "cuda" and env.gpu and env.cuda
    assert env.precision == ("bf16" if torch.cuda.is_bf16_supported() else "fp32")
    assert result.metrics["accuracy"] > 0.5
