"""Write the artifact directory of docs/ARTIFACT.md, byte-for-byte the same for the same weights.

``program.pt2`` is ``torch.export`` of feature standardisation followed by the user's network, in
eval mode on CPU, with a dynamic batch dimension. Two things would make its bytes depend on where
training ran rather than on what was trained, and both are removed before saving:

* every node's ``stack_trace`` metadata holds the absolute path of ``model.py`` (so a checkout in
  another directory would give another digest);
* the example input is stored as ``sample_inputs``: it is a fixed zero tensor, never real data.

The archive's root folder is named after the file, which is always ``program.pt2``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mlops.adapters.artifacts.loader import METRICS, MODEL_CARD, PROGRAM
from mlops.adapters.artifacts.signature import SIGNATURE, Signature
from mlops.core.card import slices_section, use_section
from mlops.core.spec.model import ModelSpec

EXAMPLE_BATCH = 2
NONDETERMINISTIC_META = ("stack_trace",)


class InferenceModule(nn.Module):
    """``net((x - mean) / std)``: the standardisation learned on the training split, baked in."""

    def __init__(self, net: nn.Module, mean: np.ndarray | None, std: np.ndarray | None) -> None:
        super().__init__()
        self.net = net
        self.standardise = mean is not None and std is not None
        if mean is not None and std is not None:
            self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
            self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.standardise:
            mean, std = self.get_buffer("mean"), self.get_buffer("std")
            x = (x - mean) / std
        out: torch.Tensor = self.net(x)
        return out


def export_program(module: nn.Module, n_features: int, path: Path) -> Any:
    """``torch.export`` ``module`` (CPU, eval) with a dynamic batch and save it to ``path``."""
    module = module.to("cpu").eval()
    example = torch.zeros(EXAMPLE_BATCH, n_features, dtype=torch.float32)
    batch = torch.export.Dim("batch", min=1)
    with torch.no_grad():
        program = torch.export.export(module, (example,), dynamic_shapes=({0: batch},), strict=False)
    for node in program.graph.nodes:
        for key in NONDETERMINISTIC_META:
            node.meta.pop(key, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, str(path))
    return program


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class DataFacts:
    path: str
    md5: str
    rows: dict[str, int]


def metrics_json(metrics: dict[str, float], data: DataFacts) -> str:
    return _dump({"metrics": metrics, "data": {"path": data.path, "md5": data.md5, "split": "test",
                                               "rows": data.rows.get("test", 0)}})


def model_card(spec: ModelSpec, signature: Signature, metrics: dict[str, float], data: DataFacts,
               slices: Mapping[str, Any] | None = None) -> str:
    """The artifact's card: only facts fixed by the inputs (no dates, hosts or durations: it is hashed). The
    card committed next to the version record (:mod:`mlops.core.card`) adds the record and the gates."""
    t = spec.training
    lines = [
        f"# Model card: {spec.name}", "", spec.description, "",
        f"- **Owners:** {', '.join(spec.owners)}",
        f"- **Task:** {spec.task}" + (f" ({len(signature.classes)} classes: "
                                      f"{', '.join(str(c) for c in signature.classes)})" if signature.classes else ""),
        f"- **Input:** `{signature.input.name}` FP32 [batch, {signature.n_features}] — the columns of "
        f"`data.features` in order, raw (standardisation is inside the program)",
        f"- **Output:** FP32 [batch, {signature.n_outputs}] — "
        + ("logits, one per class in the order above" if spec.task == "classification" else "the predicted value"),
        "", "## Data", "",
        f"`{data.path}` at DVC md5 `{data.md5}`; rows: "
        + ", ".join(f"{k} {v}" for k, v in sorted(data.rows.items()))
        + f" (seeded split {spec.data.split.seed}; normalize: {spec.data.normalize}).",
        "", "## Training", "",
        f"{t.epochs} epochs, batch size {t.batch_size}, optimizer {t.optimizer.name} (lr {t.optimizer.lr}, "
        f"weight decay {t.optimizer.weight_decay}), seed {t.seed}.",
        "", "Params: " + (", ".join(f"`{k}={v}`" for k, v in sorted(spec.params.items())) or "none") + ".",
        "", "## Metrics (held-out test split)", "", "| metric | value |", "|---|---|",
        *(f"| {name} | {value:.4f} |" for name, value in sorted(metrics.items())), "",
        *slices_section(slices or {}), *use_section(spec),
        "Serve through `mlops serve` from its version record; the gates in `model.yaml` and the environment "
        "policy decide where it may run. Inputs outside the training distribution are watched by `mlops monitor`.",
    ]
    return "\n".join(lines) + "\n"


def write_program(directory: Path, module: nn.Module, signature: Signature) -> None:
    """The program and its signature: what serving loads (metrics come from running this program)."""
    directory.mkdir(parents=True, exist_ok=True)
    export_program(module, signature.n_features, directory / PROGRAM)
    (directory / SIGNATURE).write_text(signature.dumps(), "utf-8")


def write_reports(directory: Path, spec: ModelSpec, signature: Signature, metrics: dict[str, float],
                  data: DataFacts, slices: Mapping[str, Any] | None = None) -> None:
    (directory / METRICS).write_text(metrics_json(metrics, data), "utf-8")
    (directory / MODEL_CARD).write_text(model_card(spec, signature, metrics, data, slices), "utf-8")
