"""kill -9 in the middle of training, rerun: it resumes from the last checkpoint and ends with exactly
the weights (and artifact digest) of an uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from mlops.core.repo import load_repository
from tests.integration.test_train_cli import repo_fixture, train  # noqa: F401 - the repo fixture

EPOCHS = "150"
CHECKPOINT = "checkpoint: {every: 5, unit: epoch}"
EVERY_7_STEPS = "checkpoint: {every: 7, unit: step}"


def _every_7_steps(repo: Path) -> None:
    path = repo / "models/cancer-mlp/model.yaml"
    path.write_text(path.read_text().replace(CHECKPOINT, EVERY_7_STEPS))


def _kill_after_a_checkpoint(repo: Path) -> int:
    """Start training, wait for a checkpoint, wait a random moment more, SIGKILL. Returns the last step saved."""
    env = {**os.environ, "CI": "true"}
    proc = subprocess.Popen([sys.executable, "-m", "mlops", "train", "cancer-mlp", "--repo", str(repo), "--device",
                             "cpu", "--epochs", EPOCHS, "--threads", "1", "--no-push"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = repo / ".mlops/runs/cancer-mlp"
    deadline = time.monotonic() + 300
    while not list(runs.glob("*/checkpoint.pt")):
        assert proc.poll() is None, "training ended before writing a checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    time.sleep(random.uniform(0.0, 0.4))
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "training finished before it could be killed; raise EPOCHS"
    import torch

    (ckpt,) = runs.glob("*/checkpoint.pt")
    return int(torch.load(ckpt, weights_only=True)["progress"]["step"])


def test_kill_9_then_rerun_resumes_to_identical_weights(repo: Path, tmp_path: Path) -> None:
    _every_7_steps(repo)
    saved_step = _kill_after_a_checkpoint(repo)
    assert saved_step > 0 and (saved_step % 7 == 0 or saved_step % 12 == 0)  # every 7 steps, and each epoch end
    assert not list((repo / "models/cancer-mlp/versions").glob("*.yaml"))
    resumed = train(repo, "cancer-mlp", "--epochs", EPOCHS, "--no-push", "--json")
    assert resumed.code == 0, resumed.err
    assert "resuming from" in resumed.err and f"step {saved_step}" in resumed.err
    got = json.loads(resumed.out)
    assert got["resumed"] is True

    # the same inputs, uninterrupted, in another checkout directory
    reference_repo = tmp_path / "reference"
    subprocess.run(["cp", "-a", str(repo), str(reference_repo)], check=True)
    for path in (reference_repo / "models/cancer-mlp/versions").iterdir():
        if path.name != ".gitkeep":
            subprocess.run(["rm", "-rf", str(path)], check=True)
    subprocess.run(["rm", "-rf", str(reference_repo / ".mlops/runs")], check=True)
    reference = train(reference_repo, "cancer-mlp", "--epochs", EPOCHS, "--no-push", "--json")
    assert reference.code == 0, reference.err
    expected = json.loads(reference.out)
    assert "resuming" not in reference.err
    assert got["digest"] == expected["digest"] and got["metrics"] == expected["metrics"]
    history = load_repository(repo).records["cancer-mlp"][got["version"]].spec.history
    assert history == load_repository(reference_repo).records["cancer-mlp"][expected["version"]].spec.history
    assert not (repo / ".mlops/runs/cancer-mlp").exists() or not any((repo / ".mlops/runs/cancer-mlp").iterdir())
