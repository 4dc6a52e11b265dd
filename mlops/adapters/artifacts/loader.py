"""Load an artifact for inference — only after its content matches the version record.

Order matters: (1) every file and the digest are checked against the record
(:func:`mlops.core.lineage.verify_artifact`); (2) ``program.pt2`` is checked to hold nothing that
could run code while loading (:mod:`mlops.adapters.artifacts.pt2check`); (3) only then
``torch.export.load`` reads it. The training code is never imported.

    from mlops.adapters.artifacts.loader import load_verified
    predictor = load_verified(artifact_dir, record)
    logits = predictor.predict(np.zeros((4, predictor.signature.n_features), np.float32))
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops.adapters.artifacts.signature import SIGNATURE, Signature
from mlops.core.errors import Problem, UserError
from mlops.core.lineage import verify_artifact
from mlops.core.spec.record import VersionRecord

if TYPE_CHECKING:
    import torch

PROGRAM = "program.pt2"
METRICS = "metrics.json"
MODEL_CARD = "MODEL_CARD.md"
FILES = (MODEL_CARD, METRICS, PROGRAM, SIGNATURE)


def record_path(record: VersionRecord) -> str:
    return f"models/{record.model}/versions/{record.version}.yaml"


class Predictor:
    """A loaded program: ``predict`` maps float32 ``[N, n_features]`` to float32 ``[N, n_outputs]``.

    Thread-safe: the program is a pure function of its input (eval mode, no state is mutated), and
    each call runs under ``torch.inference_mode``, so several threads may call ``predict`` at once.
    """

    def __init__(self, module: torch.nn.Module, signature: Signature, version: str = "", digest: str = "") -> None:
        self._module = module
        self.signature = signature
        self.version = version
        self.digest = digest

    def predict(self, x: np.ndarray) -> np.ndarray:
        import torch

        array = np.asarray(x, dtype=np.float32)
        n_features, n_outputs = self.signature.n_features, self.signature.n_outputs
        if array.ndim != 2 or array.shape[1] != n_features:
            raise ValueError(f"expected input of shape [N, {n_features}], got {list(array.shape)}")
        if array.shape[0] == 0:
            return np.zeros((0, n_outputs), dtype=np.float32)
        if not (array.flags.c_contiguous and array.flags.writeable):
            array = np.array(array, dtype=np.float32, order="C")
        with torch.inference_mode():
            out = self._module(torch.from_numpy(array))
        return out.float().numpy()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.predict(x)


def load_program(data: bytes, where: str, expected_sha256: str | None = None) -> Any:
    """``torch.export.load`` of program bytes that passed :func:`check_pt2`; returns the ExportedProgram.

    The bytes are read once: what was hashed and checked is exactly what is loaded.
    """
    import io

    import torch

    from mlops.adapters.artifacts.pt2check import UnsafeArchive, check_pt2

    if expected_sha256 is not None and "sha256:" + hashlib.sha256(data).hexdigest() != expected_sha256:
        raise UserError(Problem(where, 1, 1, f"{PROGRAM} changed after it was verified; refusing to load it"))
    try:
        check_pt2(data)
    except UnsafeArchive as exc:
        raise UserError(Problem(where, 1, 1, f"{PROGRAM} refused: {exc}")) from None
    return torch.export.load(io.BytesIO(data))


def load_unverified_for_training(artifact_dir: Path, where: str = "artifact") -> Predictor:
    """Load an artifact that this process just wrote (no record exists yet). Still safety-checked."""
    signature = Signature.read(artifact_dir / SIGNATURE)
    program = load_program((artifact_dir / PROGRAM).read_bytes(), where)
    return Predictor(program.module(), signature)


def load_verified(artifact_dir: Path, record: VersionRecord) -> Predictor:
    """Verify ``artifact_dir`` against ``record`` (files and digest), then load it for inference.

    Raises :class:`UserError` (pointing at the record) when anything differs: a tampered,
    incomplete or foreign artifact is never loaded.
    """
    where = record_path(record)
    verify_artifact(Path(artifact_dir), record.artifact.digest, record.artifact.files, where=where)
    if PROGRAM not in record.artifact.files:
        raise UserError(Problem(where, 1, 1, f"the record lists no {PROGRAM}; expected the files of docs/ARTIFACT.md"))
    signature = Signature.read(Path(artifact_dir) / SIGNATURE)
    if signature.model != record.model:
        raise UserError(Problem(where, 1, 1, f"artifact is of model {signature.model!r}, not {record.model!r}"))
    data = (Path(artifact_dir) / PROGRAM).read_bytes()
    program = load_program(data, where, record.artifact.files.get(PROGRAM))
    return Predictor(program.module(), signature, record.version, record.artifact.digest)
