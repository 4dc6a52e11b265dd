"""The seam between the server and the model: a ``Predictor`` with the artifact's ``Signature``.

The real implementation is ``mlops.adapters.artifacts.loader.load_verified`` (a verified ``torch.export``
artifact). ``ModulePredictor`` serves any in-process ``torch.nn.Module`` the same way (tests, notebooks,
benchmarks). The server calls ``predict`` from its one batching thread only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from mlops.adapters.artifacts.signature import Signature
from mlops.core.errors import UserError

if TYPE_CHECKING:
    import torch

__all__ = ["ModulePredictor", "Predictor", "Signature", "check_input", "metadata_tensors"]


@runtime_checkable
class Predictor(Protocol):
    """A loaded model: ``predict`` maps float32 ``[N, n_features]`` to float32 ``[N, n_outputs]``."""

    @property
    def signature(self) -> Signature: ...

    def predict(self, x: np.ndarray) -> np.ndarray: ...


def check_input(sig: Signature, name: str, datatype: str, shape: Sequence[int], where: str) -> None:
    """Refuse a serving config whose input tensor disagrees with the artifact's signature."""
    if (name, datatype, (-1, *shape)) != (sig.input.name, sig.input.datatype, sig.input.shape):
        raise UserError.at(where, f"serving.input {name} {datatype} {list(shape)} does not match the artifact's "
                                  f"signature {sig.input.name} {sig.input.datatype} {list(sig.input.shape[1:])}")


def metadata_tensors(sig: Signature) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    return [sig.input.to_json()], [sig.output.to_json()]


class ModulePredictor:
    """A ``Predictor`` over an in-process ``torch.nn.Module`` (eval mode, inference mode, no autograd)."""

    def __init__(self, module: torch.nn.Module, signature: Signature) -> None:
        self._module = module.eval()
        self.signature = signature

    def predict(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self._module(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).float().numpy()
