"""Push mode against the API server stand-in (no kube-apiserver can run here; ``test_cluster_real.py`` has the
``needs_cluster`` twin of the training flow; push deploys have not run against a real cluster).

What is checked for real: the official client's requests (server-side apply as ``application/apply-patch+yaml``
with field manager ``mlops`` and ``force``, label-selected lists, deletes), the rollout wait against a Deployment
status that progresses as a controller's would (see ``kube_serving_stub`` for what it does not model), prune of
only this environment's objects, the smoke test as a real inference through the service proxy to a real
``mlops serve``, and the rollback with its revert PR when a rollout exceeds its progress deadline.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlops.adapters.forge.local import LocalForge
from mlops.adapters.serving.kube import KubernetesServing
from mlops.deploy.run import deploy_environment
from mlops.validate.validate import load_valid
from tests.helpers.git import commit_all, init_repo
from tests.helpers.kube_serving_stub import ServingStub
from tests.helpers.kube_stub import write_kubeconfig
from tests.helpers.serve import build_artifact, write_record

MODEL, NS = "digits-cnn", "mlops-dev"
TOKEN = "s3cr3t-token-0123456789abcdef"


def _version(repo: Path, store: Path, seed: int) -> str:
    staging = store / f"seed-{seed}"
    staging.mkdir(parents=True)
    build_artifact(staging, seed=seed)
    version = write_record(staging, store / "probe.yaml").version
    target = store / MODEL / version
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(target)
    write_record(target, repo / "models" / MODEL / "versions" / f"{version}.yaml", uri=target.as_uri())
    return str(version)


def _pin(repo: Path, version: str) -> None:
    path = repo / "environments" / "dev.yaml"
    text = path.read_text().split("\ndelivery:")[0]
    path.write_text(f"{text}\ndelivery: {{mode: push, timeout_s: 30}}\npins: {{{MODEL}: {version}}}\n")
    commit_all(repo, f"pin {version} in dev")


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[str]:
    """A real `mlops serve` of a digits-cnn artifact: what the Service's pods would answer."""
    artifact = tmp_path / "backend"
    artifact.mkdir()
    build_artifact(artifact)
    write_record(artifact, tmp_path / "backend.yaml")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "mlops", "serve", "--artifact", str(artifact), "--record",
                             str(tmp_path / "backend.yaml"), "--port", str(port)], stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/v2/health/ready").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(30)


@pytest.mark.slow
def test_push_applies_prunes_waits_smokes_and_rolls_back(example_repo: Path, tmp_path: Path, backend: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(KubernetesServing, "poll_s", 0.05)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    init_repo(example_repo, gitignore="/data/\n/.mlops/\n__pycache__/\n")
    store = tmp_path / "store"
    v1, v2, v3 = (_version(example_repo, store, seed) for seed in (1, 2, 3))
    with ServingStub(token=TOKEN) as stub:
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kubeconfig", stub.url, TOKEN, NS)))
        stub.backends[(NS, MODEL)] = backend
        labels = {"app.kubernetes.io/managed-by": "mlops", "mlops.dev/environment": "dev"}
        stub.create("configmaps", NS, {"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": "retired-model-serving", "labels": labels}})
        stub.create("configmaps", NS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "not-ours"}})

        _pin(example_repo, v1)
        first = deploy_environment(load_valid(example_repo), "dev", say=lambda line: None)
        assert first.ok, first.lines()
        applies = [r for r in stub.requests if r.method == "PATCH"]
        assert applies and all(r.content_type == "application/apply-patch+yaml" and r.query.get("fieldManager")
                               == "mlops" and r.query.get("force") == "true" for r in applies)
        assert any(r.path == f"/api/v1/namespaces/{NS}" for r in applies)  # the namespace, cluster-scoped
        assert stub.get("configmaps", NS, "retired-model-serving") is None
        assert stub.get("configmaps", NS, "not-ours") is not None
        assert first.result is not None and first.result.removed == ["configmap/retired-model-serving pruned"]
        assert first.result.models[0].smoke == "passed"
        deployed = stub.deployment(NS, MODEL)
        assert deployed["metadata"]["annotations"]["mlops.dev/version"] == v1

        _pin(example_repo, v2)
        second = deploy_environment(load_valid(example_repo), "dev", say=lambda line: None)
        assert second.ok and second.result is not None
        model = second.result.models[0]
        assert (model.previous, model.version, model.changed) == (v1, v2, True)
        status = stub.deployment(NS, MODEL)
        assert status["metadata"]["generation"] == 2 and status["status"]["observedGeneration"] == 2
        assert status["status"]["updatedReplicas"] == status["status"]["availableReplicas"] == 1

        stub.failing_images.add(f"localhost:5000/mlops/{MODEL}:{v3}")
        _pin(example_repo, v3)
        third = deploy_environment(load_valid(example_repo), "dev", say=lambda line: None)
        assert not third.ok and third.result is not None
        assert "ProgressDeadlineExceeded" in str(third.result.failure)
        assert third.rollback[0].startswith(f"{MODEL} back on {v2} in dev")
        assert stub.deployment(NS, MODEL)["metadata"]["annotations"]["mlops.dev/version"] == v2
        (pull,) = LocalForge(example_repo).pulls()
        assert pull["head"] == f"mlops/rollback/dev-{MODEL}" and "ProgressDeadlineExceeded" in pull["body"]
