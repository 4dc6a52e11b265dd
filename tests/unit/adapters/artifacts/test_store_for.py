"""One way to reach an artifact: ``store_for`` picks the store from the URI, ``fetch_verified`` checks it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.adapters.artifacts import default_store, fetch_verified, store_for
from mlops.adapters.artifacts.dvc import DvcStore
from mlops.adapters.artifacts.store import DirectoryStore
from mlops.core.errors import UserError
from mlops.core.lineage import hash_artifact
from mlops.core.spec.record import VersionRecord
from tests.helpers.records import record_body

MODEL, VERSION = "digits-cnn", "20250102-aaaaaaaa"


def _record(uri: str, directory: Path) -> VersionRecord:
    digest, files = hash_artifact(directory)
    body = record_body(MODEL, VERSION, artifact={"digest": digest, "uri": uri, "files": files})
    return VersionRecord.model_validate(body)


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    directory = tmp_path / "store" / MODEL / VERSION
    directory.mkdir(parents=True)
    (directory / "program.pt2").write_bytes(b"not really a program")
    return directory


def test_the_uri_picks_the_store(tmp_path: Path) -> None:
    assert isinstance(store_for(tmp_path, f"dvc://models/{MODEL}/versions/{VERSION}"), DvcStore)
    store = store_for(tmp_path, (tmp_path / "s" / MODEL / VERSION).as_uri())
    assert isinstance(store, DirectoryStore) and store.root == (tmp_path / "s").resolve()
    assert isinstance(default_store(tmp_path), DvcStore)
    with pytest.raises(UserError, match=r"artifact.uri 's3://bucket/x' names no store .* expected dvc://"):
        store_for(tmp_path, "s3://bucket/x")


def test_a_directory_artifact_is_verified_before_it_is_returned(tmp_path: Path, artifact: Path) -> None:
    record = _record(artifact.as_uri(), artifact)
    assert fetch_verified(tmp_path, record) == artifact
    (artifact / "program.pt2").write_bytes(b"tampered")
    with pytest.raises(UserError, match="refusing to load"):
        fetch_verified(tmp_path, record)


def test_a_file_uri_outside_the_store_layout_is_named(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "program.pt2").write_bytes(b"x")
    with pytest.raises(UserError) as err:
        fetch_verified(tmp_path, _record(loose.as_uri(), loose))
    assert str(err.value).startswith(f"models/{MODEL}/versions/{VERSION}.yaml:1:1: artifact.uri")
    assert f"expected file:///<dir>/{MODEL}/{VERSION}" in str(err.value)
