"""The loop resumes exactly: a crash after any checkpoint, then a rerun, gives the same weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mlops.core.spec.model import Training
from mlops.train import checkpoint, determinism
from mlops.train.loop import LoopConfig, evaluate, fit
from mlops.train.progress import Reporter


class Crash(Exception):
    pass


class CrashAfter(Reporter):
    def __init__(self, steps: int) -> None:
        super().__init__("toy", bar=False, quiet=True)
        self.left = steps

    def step(self) -> None:
        self.left -= 1
        if self.left == 0:
            raise Crash


def _data() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return x[:70], y[:70], x[70:], y[70:]


def _net(seed: int = 5) -> nn.Module:
    determinism.configure(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))


def _training(unit: str, every: int) -> Training:
    return Training.model_validate({"epochs": 4, "batch_size": 16, "seed": 5, "checkpoint": {"every": every,
                                                                                           "unit": unit}})


def _fit(net: nn.Module, cfg: LoopConfig) -> checkpoint.Progress:
    return fit(net, *_data(), cfg)


@pytest.mark.parametrize(("unit", "every", "crash_at"), [("step", 3, 7), ("step", 2, 11), ("epoch", 1, 14)])
def test_resume_after_a_crash_gives_the_same_weights(tmp_path: Path, unit: str, every: int, crash_at: int) -> None:
    training = _training(unit, every)
    reference = _net()
    expected = _fit(reference, LoopConfig(training, "classification", torch.device("cpu")))

    work = tmp_path / "run"
    work.mkdir()
    with pytest.raises(Crash):
        _fit(_net(), LoopConfig(training, "classification", torch.device("cpu"), workdir=work,
                                reporter=CrashAfter(crash_at)))
    assert (work / checkpoint.CHECKPOINT).is_file()
    torch.manual_seed(12345)  # the resumed process starts from another RNG state: the checkpoint restores it
    resumed = _net()
    got = _fit(resumed, LoopConfig(training, "classification", torch.device("cpu"), workdir=work))
    for (name, a), (_, b) in zip(reference.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert got.history == expected.history and got.step == expected.step == 20


def test_history_has_one_entry_per_epoch() -> None:
    progress = _fit(_net(), LoopConfig(_training("epoch", 1), "classification", torch.device("cpu")))
    assert set(progress.history) == {"train_loss", "val_loss", "val_accuracy"}
    assert all(len(v) == 4 for v in progress.history.values())
    assert progress.history["train_loss"][-1] < progress.history["train_loss"][0]


def test_checkpoints_load_weights_only(tmp_path: Path) -> None:
    work = tmp_path / "run"
    work.mkdir()
    _fit(_net(), LoopConfig(_training("epoch", 2), "classification", torch.device("cpu"), workdir=work))
    state = torch.load(work / checkpoint.CHECKPOINT, weights_only=True)
    assert set(state) == {"model", "optimizer", "scheduler", "rng", "progress"}
    assert state["progress"]["epoch"] == 4 and len(state["rng"]) == 1


def test_regression_loss_and_evaluation() -> None:
    x = torch.randn(20, 3)
    y = x.sum(dim=1)
    net = nn.Linear(3, 1)
    cfg = LoopConfig(_training("epoch", 1), "regression", torch.device("cpu"))
    result = evaluate(net, x, y, "regression", cfg)
    assert set(result) == {"val_loss"} and result["val_loss"] > 0


def test_rng_states_round_trip_through_a_weights_only_checkpoint(tmp_path: Path) -> None:
    determinism.seed_all(9)
    state = determinism.capture()
    first = (np.random.random(), torch.rand(1).item(), __import__("random").random())
    checkpoint.save(tmp_path / "c.pt", {"rng": state})
    determinism.seed_all(1)
    loaded = checkpoint.load(tmp_path / "c.pt")
    assert loaded is not None
    determinism.restore(loaded["rng"])
    assert (np.random.random(), torch.rand(1).item(), __import__("random").random()) == first


def test_run_key_is_stable_and_sensitive() -> None:
    a = checkpoint.run_key({"x": 1, "y": [1, 2]})
    assert a == checkpoint.run_key({"y": [1, 2], "x": 1}) and len(a) == 16
    assert a != checkpoint.run_key({"x": 2, "y": [1, 2]})


def test_a_diverging_loss_stops_training() -> None:
    from mlops.train.loop import Diverged

    x_train, y_train, x_val, y_val = _data()
    training = Training.model_validate({"epochs": 3, "batch_size": 16, "optimizer": {"name": "sgd", "lr": 1e30}})
    with pytest.raises(Diverged, match="after epoch"):
        fit(_net(), x_train * 1e20, y_train, x_val, y_val, LoopConfig(training, "classification",
                                                                        torch.device("cpu")))
