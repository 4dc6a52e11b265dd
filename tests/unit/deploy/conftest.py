"""Fixtures for build-image: an example repository holding one recorded version and its artifact."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.deploy.versions import Version, record_version, write_artifact


@pytest.fixture
def recorded(example_repo: Path, tmp_path: Path) -> Version:
    """digits-cnn with one recorded version; its artifact lies outside the repository."""
    artifact = tmp_path / "artifact"
    write_artifact(artifact, "digits-cnn")
    return record_version(example_repo, "digits-cnn", artifact)
