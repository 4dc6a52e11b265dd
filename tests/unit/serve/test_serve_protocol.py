"""Request decoding against the model's input schema: every refusal names the field and what was expected."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pytest

from mlops.serve.protocol import ProtocolError, Schema, decode_infer, encode_infer

SCHEMA = Schema("input", "FP32", (4,), "output", "FP32")


def body(**over: Any) -> bytes:
    tensor = {"name": "input", "datatype": "FP32", "shape": [2, 4], "data": list(range(8))}
    doc: dict[str, Any] = {"inputs": [tensor]}
    for key, value in over.items():
        if key.startswith("t_"):
            if value is ...:
                tensor.pop(key[2:])
            else:
                tensor[key[2:]] = value
        else:
            doc[key] = value
    return json.dumps(doc).encode()


def refused(raw: bytes) -> str:
    with pytest.raises(ProtocolError) as info:
        decode_infer(raw, SCHEMA, max_rows=8)
    assert info.value.status == 400
    return info.value.message


def test_flat_and_nested_data_decode_to_the_same_float32_rows() -> None:
    flat = decode_infer(body(id="a"), SCHEMA, 8)
    nested = decode_infer(body(t_data=[[0, 1, 2, 3], [4, 5, 6, 7]]), SCHEMA, 8)
    assert flat.id == "a" and nested.id is None
    assert flat.x.dtype == np.float32 and flat.x.shape == (2, 4)
    np.testing.assert_array_equal(flat.x, nested.x)
    assert decode_infer(body(parameters={"k": 1}, outputs=[{"name": "output"}]), SCHEMA, 8).parameters == {"k": 1}


@pytest.mark.parametrize(("raw", "expected"), [
    (b"{not json", "request body: invalid JSON"),
    (b"[1, 2]", "request body: expected a JSON object with 'inputs', got a list"),
    (b'{"inputs": [], "input": 1}', "request: unknown field 'input'; expected id, parameters, inputs, outputs"),
    (b"{}", "inputs: expected a list of exactly one tensor named 'input', got nothing"),
    (b'{"inputs": {"name": "input"}}', "inputs: expected a list of exactly one tensor named 'input', got an object"),
    (b'{"inputs": [1]}', "inputs[0]: expected a tensor object with name, shape, datatype and data, got a number"),
])
def test_malformed_documents_are_refused_with_the_field(raw: bytes, expected: str) -> None:
    assert refused(raw).startswith(expected)


@pytest.mark.parametrize(("over", "expected"), [
    ({"id": 7}, "id: expected a string, got a number"),
    ({"parameters": [1]}, "parameters: expected an object, got a list"),
    ({"t_name": "pixels"}, "inputs[0].name: unknown input 'pixels'; expected 'input'"),
    ({"t_datatype": "INT64"}, "inputs[0].datatype: expected 'FP32', got 'INT64'"),
    ({"t_shape": ...}, "inputs[0].shape: missing; expected name, shape, datatype and data"),
    ({"t_data": ...}, "inputs[0].data: missing"),
    ({"t_extra": 1}, "inputs[0]: unknown field 'extra'"),
    ({"t_shape": [2, 5]}, "inputs[0].shape: expected [N, 4] with 1 ≤ N ≤ 8, got [2, 5]"),
    ({"t_shape": [8]}, "inputs[0].shape: expected [N, 4] with 1 ≤ N ≤ 8, got [8]"),
    ({"t_shape": [0, 4]}, "inputs[0].shape: expected [N, 4] with 1 ≤ N ≤ 8, got [0, 4]"),
    ({"t_shape": [9, 4]}, "inputs[0].shape: expected [N, 4] with 1 ≤ N ≤ 8, got [9, 4]"),
    ({"t_shape": [True, 4]}, "inputs[0].shape: expected a list of integers"),
    ({"t_shape": "2x4"}, "inputs[0].shape: expected a list of integers"),
    ({"t_data": "0,1,2"}, "inputs[0].data: expected a list of numbers (flat or nested), got a string"),
    ({"t_data": list(range(7))}, "inputs[0].data: expected 8 values for shape [2, 4], got 7"),
    ({"t_data": [[0, 1, 2, 3], [4, 5, 6]]}, "inputs[0].data: nested lists have uneven lengths"),
    ({"t_data": [[0, 1], [2, 3], [4, 5], [6, 7]]}, "inputs[0].data: nested data has shape [4, 2], expected [2, 4]"),
    ({"t_data": ["a"] * 8}, "inputs[0].data: expected numbers for datatype FP32, found strings"),
    ({"t_data": [True] * 8}, "inputs[0].data: expected numbers for datatype FP32, found booleans"),
    ({"t_data": [None] * 8}, "inputs[0].data: expected numbers for datatype FP32, found null"),
    ({"t_data": [1e39] * 8}, "inputs[0].data: values must be finite FP32 numbers"),
    ({"outputs": [{"name": "logits"}]}, "outputs[0].name: unknown output 'logits'; expected 'output'"),
    ({"outputs": "output"}, "outputs: expected a list"),
])
def test_schema_errors_name_the_field_and_what_was_expected(over: dict[str, Any], expected: str) -> None:
    assert refused(body(**over)).startswith(expected)


def test_two_input_tensors_are_refused() -> None:
    doc = json.loads(body())
    doc["inputs"].append(doc["inputs"][0])
    assert refused(json.dumps(doc).encode()).startswith("inputs: expected a list of exactly one tensor named "
                                                        "'input', got 2 tensors")


def test_response_is_one_flat_output_tensor_with_the_request_id() -> None:
    y = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    doc = orjson.loads(encode_infer("m", "v1", "rid-1", SCHEMA, y))
    assert doc == {"model_name": "m", "model_version": "v1", "id": "rid-1",
                   "outputs": [{"name": "output", "datatype": "FP32", "shape": [2, 3],
                                "data": [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]}]}
