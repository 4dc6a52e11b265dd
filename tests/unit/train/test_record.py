"""Version records: canonical YAML, a digest validate recomputes, written once."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlops.core import yamlpos
from mlops.core.errors import UserError
from mlops.core.provenance import data_spec, spec_data
from mlops.core.spec.model import Data
from mlops.core.spec.record import VersionRecord, record_digest
from mlops.train.record import dump_yaml, finalize, write_once


def _body(tiny: VersionRecord) -> dict[str, object]:
    body = tiny.body()
    body["history"] = {"train_loss": [0.5, 0.1234567890123], "val_loss": [0.4, 0.3]}
    body["metrics"] = {"accuracy": 0.9, "log_loss": 1e-7}
    body["created"] = "2025-01-02T03:04:05Z"
    return body


def test_finalize_digest_survives_the_yaml_round_trip(tiny_artifact: tuple[Path, VersionRecord],
                                                      tmp_path: Path) -> None:
    record, text = finalize(_body(tiny_artifact[1]))
    path = tmp_path / "r.yaml"
    path.write_text(text)
    doc = yamlpos.load(path, "r.yaml")  # what mlops validate reads
    assert record_digest(doc.data) == record.record_digest
    assert VersionRecord.model_validate(doc.data) == record
    assert isinstance(doc.data["created"], str)
    again = finalize(_body(tiny_artifact[1]))[1]
    assert again == text  # stable formatting
    keys = [line.split(":")[0] for line in text.splitlines() if line and line[0].isalpha()]
    assert keys == sorted(keys)


def test_an_edited_record_no_longer_matches(tiny_artifact: tuple[Path, VersionRecord], tmp_path: Path) -> None:
    _, text = finalize(_body(tiny_artifact[1]))
    path = tmp_path / "r.yaml"
    path.write_text(text.replace("accuracy: 0.9", "accuracy: 0.99"))
    doc = yamlpos.load(path, "r.yaml")
    assert record_digest(doc.data) != doc.data["record_digest"]


def test_write_once_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "versions" / "v.yaml"
    write_once(path, "a: 1\n", "models/x/versions/v.yaml")
    with pytest.raises(UserError, match="already exists") as exc:
        write_once(path, "a: 2\n", "models/x/versions/v.yaml")
    assert path.read_text() == "a: 1\n"
    assert exc.value.problems[0].path == "models/x/versions/v.yaml"
    assert [p.name for p in path.parent.iterdir()] == ["v.yaml"]  # no temp file left behind


def test_data_spec_keeps_feature_order_through_yaml() -> None:
    data = Data.model_validate({"path": "data/x.csv", "label": "y", "features": {"zeta": "float32",
                                                                                  "alpha": "int64"}})
    dumped = yaml.safe_load(dump_yaml({"data_spec": data_spec(data)}))
    assert list(spec_data(dumped["data_spec"])["features"]) == ["zeta", "alpha"]
