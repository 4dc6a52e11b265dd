"""Open Inference Protocol (v2 REST) tensors: decode and validate a request, encode a response.

Every refusal is a ``ProtocolError`` whose message names the field (``inputs[0].shape``) and says what
was expected; the app turns it into ``{"error": "..."}`` with its HTTP status.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from mlops.adapters.artifacts.signature import Signature

REQUEST_KEYS = frozenset({"id", "parameters", "inputs", "outputs"})
INPUT_KEYS = frozenset({"name", "shape", "datatype", "parameters", "data"})
REQUIRED_INPUT_KEYS = frozenset({"name", "shape", "datatype", "data"})
NUMPY_DTYPES: dict[str, type] = {"FP32": np.float32, "FP64": np.float64, "INT32": np.int32, "INT64": np.int64}
_LARGEST = {"FP32": float(np.finfo(np.float32).max), "FP64": float(np.finfo(np.float64).max),
            "INT32": float(np.iinfo(np.int32).max), "INT64": float(np.iinfo(np.int64).max)}
_KIND_NAMES = {"U": "strings", "S": "strings", "O": "null, objects or mixed values", "b": "booleans",
               "c": "complex numbers", "M": "dates", "m": "durations", "V": "raw bytes"}


class ProtocolError(Exception):
    """A request the server refuses: HTTP ``status`` and a one-line message."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def bad(message: str) -> ProtocolError:
    return ProtocolError(400, message)


@dataclass(frozen=True, slots=True)
class Schema:
    """The request/response tensors of a ``Signature``, flattened for the hot path."""

    input_name: str
    input_datatype: str
    input_shape: tuple[int, ...]  # one sample, without the batch dimension
    output_name: str
    output_datatype: str

    @classmethod
    def of(cls, sig: Signature) -> Schema:
        return cls(sig.input.name, sig.input.datatype, tuple(sig.input.shape[1:]), sig.output.name,
                   sig.output.datatype)


@dataclass(slots=True)
class InferRequest:
    id: str | None
    x: np.ndarray  # [N, *input shape], the signature's dtype
    parameters: dict[str, Any]


def _kind(value: Any) -> str:
    return "null" if value is None else {bool: "a boolean", int: "a number", float: "a number", str: "a string",
                                          list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _shape(value: Any, sig: Schema, max_rows: int, where: str) -> tuple[int, ...]:
    if (type(value) is list and len(value) == 1 + len(sig.input_shape) and type(value[0]) is int
            and 1 <= value[0] <= max_rows and tuple(value[1:]) == sig.input_shape):
        return tuple(value)
    want = f"[N, {', '.join(map(str, sig.input_shape))}] with 1 ≤ N ≤ {max_rows}"
    if not isinstance(value, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in value):
        raise bad(f"{where}: expected a list of integers {want}, got {orjson.dumps(value).decode()[:80]}")
    raise bad(f"{where}: expected {want}, got {value}")


def _data(value: Any, shape: tuple[int, ...], sig: Schema, where: str) -> np.ndarray:
    if type(value) is not list:
        raise bad(f"{where}: expected a list of numbers (flat or nested), got {_kind(value)}")
    try:
        arr = np.array(value)
    except (ValueError, TypeError):
        raise bad(f"{where}: nested lists have uneven lengths; expected a flat list or one nested as "
                  f"{list(shape)}") from None
    if arr.dtype.kind not in "iuf" and arr.size:
        found = _KIND_NAMES.get(arr.dtype.kind, str(arr.dtype))
        raise bad(f"{where}: expected numbers for datatype {sig.input_datatype}, found {found}")
    expected = math.prod(shape)
    if arr.size != expected:
        raise bad(f"{where}: expected {expected} values for shape {list(shape)}, got {arr.size}")
    if arr.ndim > 1 and arr.shape != shape:
        raise bad(f"{where}: nested data has shape {list(arr.shape)}, expected {list(shape)} or a flat list")
    dtype = NUMPY_DTYPES[sig.input_datatype]
    if arr.dtype.kind == "f" and not np.abs(arr).max() <= _LARGEST[sig.input_datatype]:
        raise bad(f"{where}: values must be finite {sig.input_datatype} numbers (out of range or overflow)")
    out: np.ndarray = arr.reshape(shape).astype(dtype, copy=False)
    return out


def decode_infer(body: bytes, sig: Schema, max_rows: int) -> InferRequest:
    """Parse and validate an inference request body against the model's signature."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad(f"request body: invalid JSON ({exc}); expected an inference request object") from None
    if not isinstance(doc, dict):
        raise bad(f"request body: expected a JSON object with 'inputs', got {_kind(doc)}")
    if not doc.keys() <= REQUEST_KEYS:
        extra = doc.keys() - REQUEST_KEYS
        raise bad(f"request: unknown field {sorted(extra)[0]!r}; expected id, parameters, inputs, outputs")
    rid = doc.get("id")
    if rid is not None and not isinstance(rid, str):
        raise bad(f"id: expected a string, got {_kind(rid)}")
    params = doc.get("parameters") or {}
    if not isinstance(params, dict):
        raise bad(f"parameters: expected an object, got {_kind(params)}")
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1:
        got = "nothing" if inputs is None else (f"{len(inputs)} tensors" if isinstance(inputs, list) else _kind(inputs))
        raise bad(f"inputs: expected a list of exactly one tensor named {sig.input_name!r}, got {got}")
    tensor = inputs[0]
    if not isinstance(tensor, dict):
        raise bad(f"inputs[0]: expected a tensor object with name, shape, datatype and data, got {_kind(tensor)}")
    if not tensor.keys() >= REQUIRED_INPUT_KEYS:
        missing = sorted(REQUIRED_INPUT_KEYS - tensor.keys())
        raise bad(f"inputs[0].{missing[0]}: missing; expected name, shape, datatype and data")
    if not tensor.keys() <= INPUT_KEYS:
        extra = tensor.keys() - INPUT_KEYS
        raise bad(f"inputs[0]: unknown field {sorted(extra)[0]!r}; expected name, shape, datatype, parameters, data")
    if tensor["name"] != sig.input_name:
        raise bad(f"inputs[0].name: unknown input {tensor['name']!r}; expected {sig.input_name!r}")
    if tensor["datatype"] != sig.input_datatype:
        raise bad(f"inputs[0].datatype: expected {sig.input_datatype!r}, got {tensor['datatype']!r}")
    shape = _shape(tensor["shape"], sig, max_rows, "inputs[0].shape")
    x = _data(tensor["data"], shape, sig, "inputs[0].data")
    outputs = doc.get("outputs")
    if outputs is not None:
        if not isinstance(outputs, list):
            raise bad(f"outputs: expected a list of {{'name': {sig.output_name!r}}}, got {_kind(outputs)}")
        for i, out in enumerate(outputs):
            name = out.get("name") if isinstance(out, dict) else None
            if name != sig.output_name:
                raise bad(f"outputs[{i}].name: unknown output {name!r}; expected {sig.output_name!r}")
    return InferRequest(rid, x, params)


def encode_infer(model: str, version: str, rid: str, sig: Schema, y: np.ndarray) -> bytes:
    """The inference response: one output tensor, data flat in row-major order."""
    return orjson.dumps(
        {"model_name": model, "model_version": version, "id": rid,
         "outputs": [{"name": sig.output_name, "datatype": sig.output_datatype, "shape": list(y.shape),
                      "data": y.reshape(-1)}]},
        option=orjson.OPT_SERIALIZE_NUMPY,
    )


def encode(doc: Any) -> bytes:
    return orjson.dumps(doc)
