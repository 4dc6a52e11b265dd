"""Content addressing: the artifact digest is what `sha256sum * | sha256sum` prints."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from mlops.core import lineage
from mlops.core.errors import UserError


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    root = tmp_path / "artifact"
    root.mkdir()
    (root / "program.pt2").write_bytes(b"\x00\x01program")
    (root / "metrics.json").write_text('{"accuracy": 0.9}\n')
    (root / "MODEL_CARD.md").write_text("# card\n")
    (root / "sub").mkdir()  # directories are not part of the artifact
    return root


def test_file_sha256(tmp_path: Path) -> None:
    file = tmp_path / "f"
    file.write_bytes(b"abc" * 1_000_000)
    assert lineage.file_sha256(file) == "sha256:" + hashlib.sha256(b"abc" * 1_000_000).hexdigest()


def test_digest_matches_sha256sum(artifact: Path) -> None:
    digest, files = lineage.hash_artifact(artifact)
    assert sorted(files) == ["MODEL_CARD.md", "metrics.json", "program.pt2"]
    listing = subprocess.run("sha256sum MODEL_CARD.md metrics.json program.pt2", shell=True, cwd=artifact,
                             capture_output=True, check=True).stdout
    assert lineage.manifest(files).encode() == listing
    assert digest == "sha256:" + hashlib.sha256(listing).hexdigest()
    assert lineage.artifact_digest(files) == digest


def test_manifest_is_sorted_by_name() -> None:
    files = {"b": "sha256:" + "2" * 64, "a": "sha256:" + "1" * 64}
    assert lineage.manifest(files) == f"{'1' * 64}  a\n{'2' * 64}  b\n"


def test_verify_accepts_the_recorded_artifact(artifact: Path) -> None:
    digest, files = lineage.hash_artifact(artifact)
    lineage.verify_artifact(artifact, digest, files)
    lineage.verify_artifact(artifact, digest)


def test_verify_refuses_a_tampered_file(artifact: Path) -> None:
    digest, files = lineage.hash_artifact(artifact)
    (artifact / "program.pt2").write_bytes(b"evil")
    with pytest.raises(UserError) as info:
        lineage.verify_artifact(artifact, digest, files, where="models/m/versions/v.yaml")
    assert str(info.value.problems[0]) == (
        "models/m/versions/v.yaml:1:1: artifact files differ from the version record: program.pt2; refusing to "
        "load a tampered or incomplete artifact")
    with pytest.raises(UserError, match="does not match the version record's"):
        lineage.verify_artifact(artifact, digest)


def test_verify_refuses_extra_and_missing_files(artifact: Path) -> None:
    digest, files = lineage.hash_artifact(artifact)
    (artifact / "extra.bin").write_bytes(b"x")
    (artifact / "MODEL_CARD.md").unlink()
    with pytest.raises(UserError, match=r"differ from the version record: MODEL_CARD\.md, extra\.bin;"):
        lineage.verify_artifact(artifact, digest, files)


def test_verify_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist; expected it fetched from the DVC remote"):
        lineage.verify_artifact(tmp_path / "nope", "sha256:" + "0" * 64)


def test_version_id() -> None:
    assert lineage.version_id("sha256:abcdef0123456789", datetime(2025, 3, 4)) == "20250304-abcdef01"
