"""The verified loader: digest first, then a safety scan, then torch.export.load."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from mlops.adapters.artifacts.loader import load_verified
from mlops.adapters.artifacts.pt2check import UnsafeArchive, check_pt2
from mlops.core.errors import UserError
from mlops.core.spec.record import VersionRecord


def test_predict_matches_the_module_and_handles_any_batch(tiny_artifact: tuple[Path, VersionRecord]) -> None:
    directory, record = tiny_artifact
    predictor = load_verified(directory, record)
    assert predictor.signature.n_features == 5 and predictor.signature.n_outputs == 3
    assert predictor.version == record.version and predictor.digest == record.artifact.digest
    x = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    out = predictor.predict(x)
    assert out.shape == (7, 3) and out.dtype == np.float32
    assert np.allclose(predictor.predict(x[:1]), out[:1], rtol=1e-5, atol=1e-6)  # GEMM paths differ by size
    assert predictor.predict(np.zeros((0, 5), np.float32)).shape == (0, 3)
    x.flags.writeable = False  # read-only input (e.g. from a request buffer) works without warnings
    assert np.array_equal(predictor.predict(x), out)
    with pytest.raises(ValueError, match=r"shape \[N, 5\]"):
        predictor.predict(np.zeros((2, 4), np.float32))


def test_predict_is_thread_safe(tiny_artifact: tuple[Path, VersionRecord]) -> None:
    predictor = load_verified(*tiny_artifact)
    inputs = [np.full((i + 1, 5), i, np.float32) for i in range(8)]
    expected = [predictor.predict(x) for x in inputs]
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        for _ in range(20):
            results[i] = predictor.predict(inputs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(results[i], expected[i]) for i in range(8))


def test_tampered_program_is_refused_before_loading(tiny_artifact: tuple[Path, VersionRecord]) -> None:
    directory, record = tiny_artifact
    program = directory / "program.pt2"
    data = bytearray(program.read_bytes())
    data[-100] ^= 1
    program.write_bytes(bytes(data))
    with pytest.raises(UserError, match=r"program\.pt2; refusing to load") as exc:
        load_verified(directory, record)
    assert exc.value.problems[0].path == f"models/tiny/versions/{record.version}.yaml"


def test_extra_or_missing_file_is_refused(tiny_artifact: tuple[Path, VersionRecord]) -> None:
    directory, record = tiny_artifact
    (directory / "evil.py").write_text("print(1)\n")
    with pytest.raises(UserError, match=r"evil\.py"):
        load_verified(directory, record)
    (directory / "evil.py").unlink()
    (directory / "MODEL_CARD.md").unlink()
    with pytest.raises(UserError, match=r"MODEL_CARD\.md"):
        load_verified(directory, record)


def test_missing_directory_is_a_user_error(tiny_artifact: tuple[Path, VersionRecord], tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_verified(tmp_path / "nope", tiny_artifact[1])


def _rewrite(program: Path, change: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(program) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            rel = info.filename.split("/", 1)[1]
            dst.writestr(info, change.pop(rel, src.read(info)))
        for rel, data in change.items():
            dst.writestr("program/" + rel, data)
    return out.getvalue()


def test_a_clean_program_passes_the_scan(tiny_artifact: tuple[Path, VersionRecord]) -> None:
    check_pt2(tiny_artifact[0] / "program.pt2")


@pytest.mark.parametrize("what", ["operator", "pickled-weight", "extra-entry", "sympy-eval", "sample-pickle"])
def test_scan_refuses_what_could_run_code(tiny_artifact: tuple[Path, VersionRecord], what: str) -> None:
    program = tiny_artifact[0] / "program.pt2"
    with zipfile.ZipFile(program) as zf:
        model = json.loads(zf.read("program/models/model.json"))
        weights = json.loads(zf.read("program/data/weights/model_weights_config.json"))
    change: dict[str, bytes] = {}
    if what == "operator":
        model["graph_module"]["graph"]["nodes"][0]["target"] = "torch.os.system"
        change["models/model.json"] = json.dumps(model).encode()
    elif what == "pickled-weight":
        next(iter(weights["config"].values()))["use_pickle"] = True
        change["data/weights/model_weights_config.json"] = json.dumps(weights).encode()
    elif what == "extra-entry":
        change["extra/module_info.json"] = b"{}"
    elif what == "sympy-eval":
        model["range_constraints"] = {"__import__('os').system('true')": {"min_val": 1, "max_val": 2}}
        change["models/model.json"] = json.dumps(model).encode()
    else:
        buf = io.BytesIO()
        torch.save({"x": Path("/etc/passwd")}, buf)  # an arbitrary class: needs a full unpickler
        change["data/sample_inputs/model.pt"] = buf.getvalue()
    with pytest.raises(UnsafeArchive):
        check_pt2(_rewrite(program, change))
