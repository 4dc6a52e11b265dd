"""The training loop: in-memory batches, no per-step host sync, checkpoints and exact resume.

The data order of an epoch comes from :class:`~torch.utils.data.DistributedSampler` (seed + epoch),
so it is recomputed, not stored, on resume; inside the epoch the checkpoint stores the position.
The loss is accumulated on the device and read once per epoch (no ``.item()`` per step).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from torch.utils.data import DistributedSampler

from mlops.core.spec.model import Training
from mlops.train import checkpoint, determinism
from mlops.train.checkpoint import Progress
from mlops.train.progress import Reporter

EVAL_BATCH = 4096


class Diverged(RuntimeError):
    """The training loss stopped being a finite number."""

    def __init__(self, epoch: int, loss: float) -> None:
        super().__init__(f"the training loss is {loss} after epoch {epoch + 1}")
        self.epoch = epoch
        self.loss = loss


@dataclass
class LoopConfig:
    training: Training
    task: str
    device: torch.device
    precision: str = "fp32"  # fp32 | bf16 | fp16 (autocast on CUDA only)
    compile: bool = False
    workdir: Path | None = None  # None: no checkpoints
    rank: int = 0
    world_size: int = 1
    reporter: Reporter | None = None


def make_optimizer(net: nn.Module, training: Training) -> torch.optim.Optimizer:
    o = training.optimizer
    params = net.parameters()
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    if o.name == "adam":
        return torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
    return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)


def loss_fn(task: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if task == "classification":
        return nn.functional.cross_entropy
    return lambda out, y: nn.functional.mse_loss(out.reshape(-1), y)


def _autocast(cfg: LoopConfig) -> AbstractContextManager[Any]:
    if cfg.device.type == "cuda" and cfg.precision in ("bf16", "fp16"):
        dtype = torch.bfloat16 if cfg.precision == "bf16" else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return nullcontext()


def evaluate(net: nn.Module, x: torch.Tensor, y: torch.Tensor, task: str, cfg: LoopConfig) -> dict[str, float]:
    """Mean loss (and accuracy for classification) over ``x``, in eval mode, without gradients."""
    if len(x) == 0:
        return {}
    was_training = net.training
    net.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    crit = loss_fn(task)
    with torch.inference_mode(), _autocast(cfg):
        for start in range(0, len(x), EVAL_BATCH):
            out = net(x[start:start + EVAL_BATCH]).float()
            yb = y[start:start + EVAL_BATCH]
            loss_sum += crit(out, yb).double() * len(yb)
            if task == "classification":
                correct += (out.argmax(dim=1) == yb).sum()
    net.train(was_training)
    result = {"val_loss": float(loss_sum.item()) / len(x)}
    if task == "classification":
        result["val_accuracy"] = float(correct.item()) / len(x)
    return result


def _state(net: nn.Module, opt: torch.optim.Optimizer, progress: Progress, rng: list[dict[str, Any]],
           acc: torch.Tensor) -> dict[str, Any]:
    progress.loss_sum = float(acc.item())
    return {"model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler": None, "rng": rng,
            "progress": progress.to_state()}


def _load_checkpoint(path: Path | None, cfg: LoopConfig) -> dict[str, Any] | None:
    """Rank 0 reads the checkpoint (``weights_only``) and sends it to the other ranks, so nodes without a
    shared disk resume from the same state."""
    state = checkpoint.load(path, "cpu") if path is not None and cfg.rank == 0 else None
    if cfg.world_size > 1:
        import torch.distributed as dist

        box: list[Any] = [state]
        dist.broadcast_object_list(box, src=0)
        state = box[0]
    return state


def _gather_rng(cfg: LoopConfig) -> list[dict[str, Any]]:
    mine = determinism.capture()
    if cfg.world_size == 1:
        return [mine]
    import torch.distributed as dist

    states: list[Any] = [None] * cfg.world_size
    dist.all_gather_object(states, mine)
    return [cast(dict[str, Any], s) for s in states]


def fit(net: nn.Module, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
        cfg: LoopConfig) -> Progress:
    """Train ``net`` in place (resuming from ``cfg.workdir`` when a checkpoint is there)."""
    t = cfg.training
    device = cfg.device
    net.to(device).train()
    x = torch.as_tensor(x_train, device=device)
    y = torch.as_tensor(y_train, device=device)
    xv, yv = torch.as_tensor(x_val, device=device), torch.as_tensor(y_val, device=device)
    opt = make_optimizer(net, t)
    progress = Progress()
    ckpt_path = cfg.workdir / checkpoint.CHECKPOINT if cfg.workdir is not None else None
    state = _load_checkpoint(ckpt_path, cfg)
    if state is not None:
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        determinism.restore(state["rng"][cfg.rank])
        progress = Progress.from_state(state["progress"])
        if cfg.reporter:
            cfg.reporter.log(f"resuming from {ckpt_path} at epoch {progress.epoch + 1}, step {progress.step}")
    model: nn.Module = net
    if cfg.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        model = cast(nn.Module, torch.compile(model))
    crit = loss_fn(cfg.task)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and cfg.precision == "fp16")
    sampler: DistributedSampler[int] = DistributedSampler(
        cast(Any, range(len(x))), num_replicas=cfg.world_size, rank=cfg.rank, shuffle=True, seed=t.seed,
        drop_last=False)
    n_batches = math.ceil(len(sampler) / t.batch_size)
    every, unit = t.checkpoint.every, t.checkpoint.unit
    autocast = _autocast(cfg)
    acc = torch.tensor(progress.loss_sum, dtype=torch.float64, device=device)
    reporter = cfg.reporter
    started = time.perf_counter()
    for epoch in range(progress.epoch, t.epochs):
        sampler.set_epoch(epoch)
        order = torch.tensor(list(iter(sampler)), dtype=torch.int64, device=device)
        if reporter:
            reporter.start_epoch(epoch, t.epochs, n_batches, progress.position)
        for pos in range(progress.position, n_batches):
            idx = order[pos * t.batch_size:(pos + 1) * t.batch_size]
            xb, yb = x[idx], y[idx]
            with autocast:
                loss = crit(model(xb).float(), yb)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            acc.add_(loss.detach(), alpha=len(idx))
            progress.loss_count += len(idx)
            progress.step += 1
            progress.position = pos + 1
            if reporter:
                reporter.step()
            if unit == "step" and progress.step % every == 0 and ckpt_path is not None and pos + 1 < n_batches:
                _save(ckpt_path, net, opt, progress, acc, cfg)
        _end_epoch(net, progress, acc, xv, yv, cfg, epoch)
        acc.zero_()
        if ckpt_path is not None and (unit == "step" or (epoch + 1) % every == 0 or epoch + 1 == t.epochs):
            _save(ckpt_path, net, opt, progress, acc, cfg)
    if reporter:
        reporter.finish(time.perf_counter() - started)
    return progress


def _end_epoch(net: nn.Module, progress: Progress, acc: torch.Tensor, xv: torch.Tensor, yv: torch.Tensor,
               cfg: LoopConfig, epoch: int) -> None:
    total = acc.clone()
    count = torch.tensor(progress.loss_count, dtype=torch.float64, device=acc.device)
    if cfg.world_size > 1:
        import torch.distributed as dist

        dist.all_reduce(total)
        dist.all_reduce(count)
    train_loss = float(total.item()) / max(float(count.item()), 1.0)
    if not math.isfinite(train_loss):
        raise Diverged(epoch, train_loss)
    metrics = {"train_loss": train_loss, **evaluate(net, xv, yv, cfg.task, cfg)}
    for key, value in metrics.items():
        progress.history.setdefault(key, []).append(value)
    progress.epoch, progress.position, progress.loss_count = epoch + 1, 0, 0
    if cfg.reporter:
        cfg.reporter.end_epoch(epoch, metrics)


def _save(path: Path, net: nn.Module, opt: torch.optim.Optimizer, progress: Progress, acc: torch.Tensor,
          cfg: LoopConfig) -> None:
    rng = _gather_rng(cfg)  # every rank takes part; rank 0 writes
    if cfg.rank == 0:
        checkpoint.save(path, _state(net, opt, progress, rng, acc))
