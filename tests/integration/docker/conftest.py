"""A real Docker engine, local registry and base image (scripts/docker_bootstrap.sh), and a trained version.

When no engine can be started the tests skip with the bootstrap's reason (``.mlops/docker-unavailable``).
"""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.helpers.git import copy_example
from tests.helpers.git import git as _git

STATE = ROOT / ".mlops"
REASON = STATE / "docker-unavailable"
FACTS = STATE / "docker.json"
BOOTSTRAP = ROOT / "scripts" / "docker_bootstrap.sh"


@dataclass(frozen=True)
class DockerFacts:
    base_image: str
    registry: str  # host:port of the local registry
    wheelhouse: Path
    client: object  # docker.DockerClient


def _missing() -> str | None:
    """What is not up (engine, base image, registry), or None when all is."""
    if not FACTS.is_file():
        return "scripts/docker_bootstrap.sh has not run (no .mlops/docker.json)"
    from mlops.adapters.image.docker import DockerImageBuilder

    with DockerImageBuilder() as builder:
        reason = builder.unavailable()
    if reason:
        return reason
    facts = json.loads(FACTS.read_text())
    import docker

    client = docker.from_env(version="auto")
    try:
        if not client.images.list(name=facts["base_image"]):
            return f"the base image {facts['base_image']} is missing"
    finally:
        client.close()
    try:
        urllib.request.urlopen(f"http://{facts['registry']}/v2/", timeout=5).close()
    except OSError as exc:
        return f"the registry on {facts['registry']} does not answer ({exc})"
    return None


@pytest.fixture(scope="session")
def docker_facts() -> Iterator[DockerFacts]:
    """The engine, base image and registry; bootstraps them (idempotent) when something is not up."""
    missing = None if REASON.is_file() else _missing()
    if missing is not None:  # e.g. pytest run directly, or dockerd gone since the last bootstrap
        subprocess.run(["bash", str(BOOTSTRAP)], cwd=ROOT, timeout=900, check=False)
    if REASON.is_file():
        pytest.skip(f"no Docker engine: {REASON.read_text().strip()} (see scripts/docker_bootstrap.sh)")
    missing = _missing()
    if missing is not None:
        pytest.skip(f"no Docker engine: {missing}")
    import docker

    facts = json.loads(FACTS.read_text())
    client = docker.from_env(version="auto", timeout=600)
    yield DockerFacts(facts["base_image"], facts["registry"], Path(facts["wheelhouse"]), client)
    client.close()


@dataclass(frozen=True)
class Trained:
    repo: Path
    model: str
    version: str

    @property
    def ref(self) -> str:
        return f"{self.model}@{self.version}"



@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """A git copy of the example repository with digits-cnn trained for one epoch by `mlops train`."""
    repo = copy_example(tmp_path_factory.mktemp("docker") / "repo")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "example repository")
    res = run_cli("train", "digits-cnn", "--repo", str(repo), "--epochs", "1", "--device", "cpu", "--no-push",
                  "--json", cwd=repo)
    assert res.code == 0, res.err
    out = json.loads(res.out[res.out.index("{"):])
    return Trained(repo, out["model"], out["version"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
