"""``signature.json``: what an artifact takes and returns (see docs/ARTIFACT.md). Pure: no torch."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mlops.core.errors import Problem, UserError

SIGNATURE = "signature.json"
Label = int | str


@dataclass(frozen=True)
class TensorInfo:
    """One named tensor of the Open Inference Protocol: ``shape`` has -1 for the batch dimension."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


@dataclass(frozen=True)
class Signature:
    """Input ``FP32 [-1, n_features]``; output ``FP32 [-1, n_outputs]`` (logits or one regression value)."""

    model: str
    task: Literal["classification", "regression"]
    input: TensorInfo
    output: TensorInfo
    features: tuple[str, ...]
    classes: tuple[Label, ...] = ()

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def n_outputs(self) -> int:
        return self.output.shape[-1]

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "task": self.task, "input": self.input.to_json(),
                "output": self.output.to_json(), "features": list(self.features), "classes": list(self.classes)}

    def dumps(self) -> str:
        """Byte-stable JSON (sorted keys, fixed indentation, trailing newline): part of the digest."""
        return json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def build(cls, model: str, task: Literal["classification", "regression"], input_name: str,
              features: list[str], classes: list[Label]) -> Signature:
        n_outputs = len(classes) if task == "classification" else 1
        return cls(model, task, TensorInfo(input_name, "FP32", (-1, len(features))),
                   TensorInfo("output", "FP32", (-1, n_outputs)), tuple(features), tuple(classes))

    @classmethod
    def from_json(cls, data: Any, where: str = SIGNATURE) -> Signature:
        try:
            task = data["task"]
            if task not in ("classification", "regression"):
                raise ValueError(f"unknown task {task!r}")
            tensors = [TensorInfo(str(t["name"]), str(t["datatype"]), tuple(int(d) for d in t["shape"]))
                       for t in (data["input"], data["output"])]
            features = tuple(str(f) for f in data["features"])
            classes = tuple(c if isinstance(c, int) else str(c) for c in data.get("classes", []))
            sig = cls(str(data["model"]), task, tensors[0], tensors[1], features, classes)
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(Problem(where, 1, 1, f"invalid artifact signature ({exc}); expected the format of "
                                                 "docs/ARTIFACT.md")) from None
        if sig.input.shape != (-1, len(features)) or len(sig.output.shape) != 2:
            raise UserError(Problem(where, 1, 1, f"signature shapes {list(sig.input.shape)} → "
                                                 f"{list(sig.output.shape)} do not match {len(features)} features"))
        return sig

    @classmethod
    def read(cls, path: Path) -> Signature:
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(Problem(str(path), 1, 1, f"cannot read the artifact signature: {exc}")) from None
        return cls.from_json(data, str(path))
