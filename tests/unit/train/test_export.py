"""The exported program is a function of the weights only: same bytes from any directory, no paths inside."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from mlops.train import usercode
from mlops.train.export import InferenceModule, export_program

MODEL_PY = Path(__file__).resolve().parents[3] / "models" / "digits-cnn" / "model.py"


def _export(code_dir: Path, out: Path) -> bytes:
    code_dir.mkdir(parents=True)
    (code_dir / "model.py").write_bytes(MODEL_PY.read_bytes())
    torch.manual_seed(0)
    net = usercode.build("digits-cnn", code_dir / "model.py", {"channels": 4, "hidden": 8}, 64, 10, "model.py")
    export_program(InferenceModule(net, np.zeros(64, np.float32), np.ones(64, np.float32)), 64, out)
    return out.read_bytes()


def test_same_bytes_from_different_checkouts(tmp_path: Path) -> None:
    a = _export(tmp_path / "one" / "models" / "digits-cnn", tmp_path / "a" / "program.pt2")
    b = _export(tmp_path / "elsewhere" / "deeper" / "models" / "digits-cnn", tmp_path / "b" / "program.pt2")
    assert a == b
    with zipfile.ZipFile(tmp_path / "a" / "program.pt2") as zf:
        program = zf.read("program/models/model.json").decode()
    assert str(tmp_path) not in program and "stack_trace" not in program.replace('"stack_trace": null', "")
    assert "mlops_user_model.digits_cnn.DigitsCNN" in program


def test_normalize_none_exports_the_bare_network(tmp_path: Path) -> None:
    net = torch.nn.Linear(3, 1)
    program = export_program(InferenceModule(net, None, None), 3, tmp_path / "program.pt2")
    x = torch.randn(5, 3)
    assert torch.allclose(program.module()(x), net(x))
