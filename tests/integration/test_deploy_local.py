"""Local delivery for real: `mlops serve` processes behind the environment's port, switched without a failed request.

A real git repository pins real digits-cnn artifacts (directory store); `mlops deploy --env dev` serves the pin on
dev's port; a new pin is deployed under a steady loopback load and no request fails; the state survives the
command; a version that cannot start fails its deploy, is rolled back at once and a revert PR is opened.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from mlops.adapters.forge.local import LocalForge
from mlops.adapters.serving.local import LocalServing
from tests.conftest import run_cli
from tests.helpers.git import commit_all, init_repo
from tests.helpers.serve import build_artifact, write_record

MODEL = "digits-cnn"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _version(repo: Path, store: Path, seed: int) -> str:
    staging = store / f"seed-{seed}"
    staging.mkdir(parents=True)
    build_artifact(staging, seed=seed)
    probe = write_record(staging, store / "probe.yaml")
    target = store / MODEL / probe.version
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(target)
    write_record(target, repo / "models" / MODEL / "versions" / f"{probe.version}.yaml", uri=target.as_uri())
    return str(probe.version)


def _pin(repo: Path, version: str, port: int) -> None:
    path = repo / "environments" / "dev.yaml"
    text = path.read_text()
    head, _, _ = text.partition("\nlocal:")
    head = head.split("\npins:")[0]
    path.write_text(f"{head}\nlocal:\n  ports: {{{MODEL}: {port}}}\npins: {{{MODEL}: {version}}}\n")


@pytest.fixture
def repo(example_repo: Path, tmp_path: Path) -> Path:
    init_repo(example_repo, gitignore="/data/\n/.mlops/\n__pycache__/\n")
    yield example_repo
    LocalServing(example_repo).stop("dev")


class Load:
    """Closed-loop requests to the stable port from a few threads; counts answers by status and version."""

    def __init__(self, port: int, threads: int = 4) -> None:
        self.url = f"http://127.0.0.1:{port}/v2/models/{MODEL}/infer"
        self.stop = threading.Event()
        self.results: Counter[str] = Counter()
        self.versions: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        body = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64], "data": [1.0] * 64}]}
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                try:
                    resp = client.post(self.url, json=body)
                    key, version = str(resp.status_code), resp.json().get("model_version", "?")
                except httpx.HTTPError as exc:
                    key, version = type(exc).__name__, "-"
                with self.lock:
                    self.results[key] += 1
                    self.versions[version] += 1

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)


@pytest.mark.slow
def test_switching_versions_drops_no_request_and_a_broken_version_is_rolled_back(repo: Path, tmp_path: Path) -> None:
    store, port = tmp_path / "store", _free_port()
    v1, v2 = _version(repo, store, 1), _version(repo, store, 2)
    _pin(repo, v1, port)
    commit_all(repo, f"pin {v1} in dev")
    first = run_cli("deploy", "--env", "dev", "--json", "--repo", str(repo))
    assert first.code == 0, first.out + first.err
    result = json.loads(first.out)["result"]
    assert result["models"][0]["smoke"] == "passed" and result["models"][0]["version"] == v1

    _pin(repo, v2, port)
    commit_all(repo, f"pin {v2} in dev")
    with Load(port) as load:
        time.sleep(1.0)
        switched = run_cli("deploy", "--env", "dev", "--json", "--repo", str(repo))
        time.sleep(1.0)
    assert switched.code == 0, switched.out + switched.err
    assert set(load.results) == {"200"}, f"requests failed during the switch: {dict(load.results)}"
    assert load.versions[v1] > 0 and load.versions[v2] > 0, dict(load.versions)
    print(f"switch under load: {sum(load.results.values())} requests, 0 failed, {dict(load.versions)}")
    assert LocalServing(repo).current("dev", MODEL).version == v2  # the state survives the command

    v3 = _version(repo, store, 3)
    (store / MODEL / v3 / "program.pt2").write_bytes(b"tampered after the record was written")
    _pin(repo, v3, port)
    commit_all(repo, f"pin {v3} in dev")
    broken = run_cli("deploy", "--env", "dev", "--json", "--repo", str(repo))
    assert broken.code == 1
    outcome = json.loads(broken.out)
    assert outcome["result"]["failed_model"] == MODEL and "refusing to load" in outcome["result"]["failure"]
    assert outcome["rollback"][0].startswith(f"{MODEL} back on {v2} in dev")
    assert LocalServing(repo).current("dev", MODEL).version == v2
    assert httpx.get(f"http://127.0.0.1:{port}/v2/health/ready").status_code == 200
    (pull,) = LocalForge(repo).pulls()
    assert pull["head"] == f"mlops/rollback/dev-{MODEL}" and "mlops-rollback" in pull["labels"]
    assert f"pins `{MODEL}` at `{v2}` again" in pull["body"] and "refusing to load" in pull["body"]
    assert pull["state"] == "closed" and pull["merged"]  # dev's policy: auto_merge_rollback
    by_hand = run_cli("rollback", "--env", "dev", "--model", MODEL, "--cause", "v2 too slow", "--repo", str(repo))
    assert by_hand.code == 0, by_hand.err  # back from v2 to v1 (never to v3, which a rollback moved away from)
    assert by_hand.out.startswith(f"{MODEL} back on {v1} in dev")
    assert LocalServing(repo).current("dev", MODEL).version == v1
    assert [p["state"] for p in LocalForge(repo).pulls()] == ["closed", "closed"]
    shutil.rmtree(store)
