"""Breast-cancer MLP: a small multilayer perceptron on the 30 tabular features of scikit-learn's
Wisconsin breast cancer data set (label: 1 = malignant).

The model contract: ``build(params, n_features, n_outputs) -> torch.nn.Module`` whose ``forward``
maps float32 ``[batch, n_features]`` (standardised by the harness) to ``[batch, n_outputs]`` logits.
"""

from __future__ import annotations

from typing import Any

from torch import nn


def build(params: dict[str, Any], n_features: int, n_outputs: int) -> nn.Module:
    hidden = [int(h) for h in params.get("hidden", [32, 16])]
    dropout = float(params.get("dropout", 0.1))
    layers: list[nn.Module] = []
    width = n_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
        width = h
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)
