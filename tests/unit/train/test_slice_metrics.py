"""Training measures each slice of the test split into the record: every metric, rows, 95 % intervals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from mlops.core.metrics import compute
from mlops.core.repo import load_repository
from mlops.core.spec.record import VersionRecord
from mlops.train.record import finalize
from mlops.train.train import slice_metrics
from tests.conftest import ROOT


def test_each_slice_of_the_example_spec_is_measured() -> None:
    spec = load_repository(ROOT, only_models={"cancer-mlp"}).model("cancer-mlp")
    rng = np.random.default_rng(0)
    x = rng.uniform(5, 25, size=(200, len(spec.data.features))).astype(np.float32)
    y = rng.integers(0, 2, 200)
    outputs = rng.normal(size=(200, 2))
    found = slice_metrics(spec, list(spec.data.features), x, y, outputs)
    assert list(found) == ["small", "medium", "large"]
    radius = x[:, list(spec.data.features).index("mean_radius")]
    medium = (radius >= 12) & (radius < 15)
    assert found["medium"]["rows"] == int(medium.sum())
    assert found["medium"]["metrics"] == compute(spec.evaluation.metrics, y[medium], outputs[medium])
    assert set(found["medium"]["intervals"]) == {"accuracy", "macro_f1", "log_loss"}
    assert sum(s["rows"] for s in found.values()) == 200  # the size slices cover every row once


def test_no_slices_no_field(tiny_artifact: tuple[Path, VersionRecord]) -> None:
    spec = load_repository(ROOT, only_models={"digits-cnn"}).model("digits-cnn")
    assert slice_metrics(spec, list(spec.data.features), np.zeros((3, 64)), np.zeros(3), np.zeros((3, 10))) == {}
    _, text = finalize(tiny_artifact[1].body())
    assert "slices" not in yaml.safe_load(text)
