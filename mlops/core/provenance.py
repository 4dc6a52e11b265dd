"""What a version was trained from, compared with what a checkout would train now (pure).

A version record states the inputs that decide its weights: the task, the data section of the spec, the
params, the training settings, the data version (DVC md5) and the sha256 of ``model.py``. A model counts as
trained for a revision only when one of its records states exactly that revision's inputs — a record of an
older ``model.py`` or other params is not evidence for the new ones, whatever the file tree looks like.
"""

from __future__ import annotations

from typing import Any

from mlops.core.spec.model import Data, ModelSpec
from mlops.core.spec.record import VersionRecord

INPUTS = ("task", "data_spec", "params", "training", "data_md5", "model_py_sha256")


def data_spec(data: Data) -> dict[str, Any]:
    """The data section for the record; features as a list of one-key mappings, so YAML keeps their order."""
    dumped = data.model_dump(mode="json")
    dumped["features"] = [{name: dtype} for name, dtype in data.features.items()]
    return dumped


def spec_data(recorded: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`data_spec`: the data section as model.yaml writes it."""
    out = dict(recorded)
    features = out.get("features")
    if isinstance(features, list):
        out["features"] = {k: v for item in features for k, v in dict(item).items()}
    return out


def spec_inputs(spec: ModelSpec, model_py_sha256: str, data_md5: str) -> dict[str, Any]:
    """The inputs a checkout would train ``spec`` from, in the record's terms."""
    return {"task": spec.task, "data_spec": data_spec(spec.data), "params": spec.model_dump(mode="json")["params"],
            "training": spec.training.model_dump(mode="json"), "data_md5": data_md5,
            "model_py_sha256": model_py_sha256}


def record_inputs(record: VersionRecord) -> dict[str, Any]:
    """The inputs ``record`` states it was trained from."""
    return {"task": record.task, "data_spec": record.data_spec, "params": record.params,
            "training": record.training, "data_md5": record.data.md5,
            "model_py_sha256": record.code.model_py_sha256}


def input_differences(record: VersionRecord, spec: ModelSpec, model_py_sha256: str, data_md5: str) -> list[str]:
    """Which inputs differ between ``record`` and the checkout (empty: trained from exactly these inputs)."""
    now, then = spec_inputs(spec, model_py_sha256, data_md5), record_inputs(record)
    return [name for name in INPUTS if now[name] != then[name]]


def spec_from_record(current: ModelSpec, record: VersionRecord) -> ModelSpec:
    """The current spec with everything that decides the weights taken from the record."""
    data = current.model_dump(mode="json")
    data.update(params=record.params, training=record.training)
    if record.task:
        data["task"] = record.task
    if record.data_spec:
        data["data"] = spec_data(record.data_spec)
    return ModelSpec.model_validate(data, strict=False)
