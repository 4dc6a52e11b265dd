"""The real :class:`~mlops.evaluate.evaluate.Scorer`: fetch a version's artifact, verify and load it through
its record, and compute the metrics on the current held-out test split of the model's data. The per-row outputs
and labels come back with the metrics, so the evaluation can bootstrap intervals on the same rows, with the rows
of each slice of ``evaluation.slices`` (from the model's current spec) to measure the slices on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mlops.core.confidence import Rows
from mlops.core.dvcmeta import data_version
from mlops.core.errors import UserError
from mlops.core.repo import Repository
from mlops.core.slices import masks
from mlops.core.spec.record import VersionRecord
from mlops.evaluate.evaluate import Scores, Unavailable

BATCH = 4096


class ArtifactScorer:
    """Scores versions of one model on the current test split (loaded once, on first use)."""

    def __init__(self, repo: Repository, model: str) -> None:
        self.repo = repo
        self.model = model
        self._test: tuple[np.ndarray, np.ndarray, list[str], list[Any]] | None = None
        self._masks: dict[str, np.ndarray] | None = None
        self._scores: dict[tuple[str, str, tuple[str, ...]], Scores] = {}

    def data_version(self) -> str:
        return data_version(self.repo.root, required=False)

    def _split(self) -> tuple[np.ndarray, np.ndarray, list[str], list[Any]]:
        if self._test is None:
            from mlops.adapters.artifacts import ensure_data
            from mlops.train.data import load_table

            loaded = self.repo.models[self.model]
            spec, doc = loaded.spec, loaded.doc
            if not ensure_data(self.repo.root, spec.data.path):
                raise UserError(doc.problem(("data", "path"), f"{spec.data.path} is not in the data DVC tracks "
                                                              "(data.dvc); expected it there after `dvc pull`"))
            table = load_table(self.repo.root / spec.data.path, spec, doc)
            x, y = table.part("test")
            self._test = (x, y, list(table.features), list(table.classes))
            self._masks = masks(spec.evaluation.slices, table.features, x) if spec.evaluation.slices else None
        return self._test

    def score(self, record: VersionRecord, metrics: Sequence[str]) -> Scores:
        key = (record.version, record.artifact.digest, tuple(metrics))
        if key not in self._scores:
            self._scores[key] = self._score(record, metrics)
        return self._scores[key]

    def _score(self, record: VersionRecord, metrics: Sequence[str]) -> Scores:
        from mlops.adapters.artifacts import fetch_verified
        from mlops.adapters.artifacts.loader import load_verified
        from mlops.core.metrics import compute

        try:
            directory = fetch_verified(self.repo.root, record)
        except UserError as exc:
            raise Unavailable(str(exc.problems[0].message)) from None
        predictor = load_verified(directory, record)
        x, y, features, classes = self._split()
        signature = predictor.signature
        if list(signature.features) != features:
            raise Unavailable("its input features differ from the model's current data.features")
        if signature.task == "classification" and list(signature.classes) != classes:
            raise Unavailable(f"its classes {list(signature.classes)} differ from the current data's {classes}")
        outputs = np.concatenate([predictor.predict(x[i:i + BATCH]) for i in range(0, max(len(x), 1), BATCH)])
        return Scores(compute(metrics, y, outputs), Rows(y, outputs), self._masks)
