"""Digits CNN: a small convolutional network for scikit-learn's 8×8 handwritten digits.

The model contract (see ``mlops new model``):

``build(params, n_features, n_outputs) -> torch.nn.Module``
    Returns the network. Its ``forward`` takes a float32 tensor ``[batch, n_features]`` (the feature
    columns of ``data.features`` in order, standardised by the harness) and returns
    ``[batch, n_outputs]`` logits for classification, ``[batch, 1]`` for regression.
    ``params`` is the ``params`` mapping of ``model.yaml``. No I/O, no global state: the harness
    seeds, trains, exports (TorchScript) and serves it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class DigitsCNN(nn.Module):
    def __init__(self, channels: int, hidden: int, dropout: float, n_outputs: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels * 2, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * 2 * 4 * 4, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.reshape(-1, 1, 8, 8)))


def build(params: dict[str, Any], n_features: int, n_outputs: int) -> nn.Module:
    if n_features != 64:
        raise ValueError(f"digits-cnn expects 64 pixel features (8×8), got {n_features}")
    return DigitsCNN(int(params.get("channels", 16)), int(params.get("hidden", 64)),
                     float(params.get("dropout", 0.1)), n_outputs)
