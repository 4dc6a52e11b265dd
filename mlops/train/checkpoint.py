"""Atomic checkpoints in a per-run work directory, and the run key that names it.

A checkpoint holds the model, optimizer and scheduler state, the RNG states of every rank, the
epoch, the global step and the position inside the epoch, the running loss of the epoch and the
history so far. It is written to a temp file and renamed (``mlops.core.atomic``), so a kill at any
moment leaves either the previous checkpoint or the new one. It is read back with
``torch.load(weights_only=True)``: only tensors and plain containers, never pickled objects.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mlops.core.atomic import write_bytes

CHECKPOINT = "checkpoint.pt"
FINAL = "final.pt"
RUNS = Path(".mlops") / "runs"


def run_key(inputs: dict[str, Any]) -> str:
    """16 hex of the sha256 of the canonical JSON of everything that decides the trained weights."""
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def run_dir(root: Path, model: str, key: str) -> Path:
    return root / RUNS / model / key


@dataclass
class Progress:
    """Where training stands: the next batch to run is ``position`` of epoch ``epoch``."""

    epoch: int = 0
    position: int = 0
    step: int = 0
    loss_sum: float = 0.0
    loss_count: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)

    def to_state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position, "step": self.step, "loss_sum": self.loss_sum,
                "loss_count": self.loss_count, "history": {k: list(v) for k, v in self.history.items()}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Progress:
        return cls(int(state["epoch"]), int(state["position"]), int(state["step"]), float(state["loss_sum"]),
                   int(state["loss_count"]), {k: [float(x) for x in v] for k, v in state["history"].items()})


def save(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes(path, buffer.getvalue())


def load(path: Path, device: torch.device | str = "cpu") -> dict[str, Any] | None:
    """The checkpoint at ``path``, or None when there is none. Only tensors and plain data load."""
    if not path.is_file():
        return None
    state: dict[str, Any] = torch.load(path, map_location=device, weights_only=True)
    return state
