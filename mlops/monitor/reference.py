"""The reference a window is compared with: the pinned version's own training rows, found through its record.

The record names the data version (DVC's md5 of the data directory) and the data section trained with
(features, label, split); the rows are that version's file, read by content address
(:func:`mlops.adapters.artifacts.data_file_at`), split as training split it, training rows only — not
whatever the checkout's ``data.dvc`` says today.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mlops.adapters.artifacts import data_file_at
from mlops.core.drift import Kind, kinds_from_dtypes
from mlops.core.provenance import spec_from_record
from mlops.core.repo import Repository
from mlops.core.spec.model import ModelSpec
from mlops.core.spec.record import VersionRecord

if TYPE_CHECKING:
    from pandas import DataFrame


@dataclass(frozen=True)
class Reference:
    spec: ModelSpec  # the spec as the version was trained (data section from its record)
    features: DataFrame  # training rows, one float64 column per feature, in signature order
    labels: np.ndarray  # class index (classification) or value, per training row
    classes: list[int | str]
    kinds: dict[str, Kind]
    data_md5: str

    def monitored(self, wanted: list[str]) -> list[str]:
        """The monitored features: ``monitoring.features``, or every feature when it is empty."""
        return [f for f in self.features.columns if not wanted or f in wanted]


def load_reference(repo: Repository, record: VersionRecord) -> Reference:
    import pandas as pd

    from mlops.train.data import load_table

    loaded = repo.require_model(record.model)
    spec = spec_from_record(loaded.spec, record)
    path = data_file_at(repo.root, record.data.md5, spec.data.path)
    table = load_table(path, spec, loaded.doc)
    x, y = table.part("train")
    frame = pd.DataFrame(x.astype(np.float64), columns=list(table.features))
    return Reference(spec, frame, y, list(table.classes), kinds_from_dtypes(spec.data.features), record.data.md5)
