"""Seeding, deterministic kernels, and RNG states that survive a ``weights_only`` checkpoint.

RNG states are stored as plain lists and tensors (never pickled objects), so checkpoints load with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

CUBLAS_WORKSPACE = ":4096:8"


def configure(seed: int, *, threads: int | None = None, strict: bool = True) -> None:
    """Seed python, numpy and torch (every device) and ask torch for deterministic kernels.

    ``CUBLAS_WORKSPACE_CONFIG`` is set before CUDA initialises (cuBLAS needs it to be deterministic).
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    if threads:
        torch.set_num_threads(threads)
    seed_all(seed)
    torch.use_deterministic_algorithms(True, warn_only=not strict)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    torch.manual_seed(seed)


def is_nondeterminism_error(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) and "does not have a deterministic implementation" in str(exc)


def capture() -> dict[str, Any]:
    """The RNG states of python, numpy, torch CPU and every CUDA device, as lists and tensors."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": [int(version), [int(v) for v in internal], gauss],
        "numpy": [str(name), torch.as_tensor(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss),
                  float(cached)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def restore(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((int(version), tuple(int(v) for v in internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(cached)))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
