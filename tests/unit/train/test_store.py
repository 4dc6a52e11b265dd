"""The directory store: immutable puts, verified fetches."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.adapters.artifacts import ArtifactStore
from mlops.adapters.artifacts.loader import load_verified
from mlops.adapters.artifacts.store import DirectoryStore
from mlops.core.errors import UserError
from mlops.core.spec.record import VersionRecord


def test_put_then_fetch_verified(tiny_artifact: tuple[Path, VersionRecord], tmp_path: Path) -> None:
    directory, record = tiny_artifact
    store: ArtifactStore = DirectoryStore(tmp_path / "store")
    uri = store.put("tiny", record.version, directory)
    assert uri.startswith("file://") and uri.endswith(f"/tiny/{record.version}")
    fetched = store.fetch("tiny", record.version, record)
    assert load_verified(fetched, record).signature.model == "tiny"
    with pytest.raises(UserError, match="immutable"):
        store.put("tiny", record.version, directory)


def test_fetch_refuses_a_tampered_artifact(tiny_artifact: tuple[Path, VersionRecord], tmp_path: Path) -> None:
    directory, record = tiny_artifact
    store = DirectoryStore(tmp_path / "store")
    store.put("tiny", record.version, directory)
    (store.path("tiny", record.version) / "signature.json").write_text("{}")
    with pytest.raises(UserError, match=r"signature\.json"):
        store.fetch("tiny", record.version, record)


def test_fetch_of_a_missing_version(tiny_artifact: tuple[Path, VersionRecord], tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        DirectoryStore(tmp_path / "store").fetch("tiny", "20250101-00000000", tiny_artifact[1])
