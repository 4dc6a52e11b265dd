"""The cluster flow against a real Kubernetes API server (kind, k3d, …); skipped when none is reachable.

Point ``KUBECONFIG`` at the cluster. ``MLOPS_TEST_IMAGE`` (default ``busybox:1.36``) is a small image with
``sh`` the nodes can pull; ``MLOPS_TEST_NAMESPACE`` (default: the context's namespace) must exist. With
``MLOPS_TRAINING_IMAGE`` set (an image holding the example repository at ``/workspace`` and this package
with its dependencies, see docs/ARTIFACT.md "Training on a cluster"), the example model's real training Job
is submitted and followed too, and its version record collected; with ``MLOPS_TEST_DVC_REMOTE`` (the URL
of the image's DVC default remote, reachable from here) the artifact is fetched and verified as well.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops.adapters.cluster.follow import follow_job
from mlops.adapters.cluster.kube import KubernetesTarget

pytestmark = pytest.mark.needs_cluster


@pytest.fixture
def cluster() -> Iterator[KubernetesTarget]:
    config = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    if not any(Path(p).is_file() for p in config.split(os.pathsep) if p):
        pytest.skip(f"needs a real cluster: no kubeconfig at {config} (set KUBECONFIG to a kind/k3d cluster's)")
    try:
        target = KubernetesTarget.from_kubeconfig()
        from kubernetes import client

        client.VersionApi(target._api).get_code(_request_timeout=5)
    except Exception as exc:  # any failure to connect (ClusterError, urllib3, ApiException): no cluster here
        pytest.skip(f"needs a real cluster: the one in {config} is not reachable ({type(exc).__name__})")
    target.default_namespace = os.environ.get("MLOPS_TEST_NAMESPACE", target.default_namespace)
    try:
        yield target
    finally:
        target.close()


def manifests(name: str, *, fail: bool) -> list[dict[str, Any]]:
    image = os.environ.get("MLOPS_TEST_IMAGE", "busybox:1.36")
    container = {
        "name": "main", "image": image, "command": ["sh", "-c"],
        "args": ['echo "index $JOB_COMPLETION_INDEX of $(JOB) says hello"; test "$FAIL" != 1'],
        "env": [{"name": "JOB", "value": name}, {"name": "FAIL", "value": "1" if fail else "0"}],
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": 65534,
                            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
    }
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
         "spec": {"clusterIP": "None", "selector": {"batch.kubernetes.io/job-name": name}}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
         "spec": {"completionMode": "Indexed", "completions": 2, "parallelism": 2, "backoffLimit": 0,
                  "activeDeadlineSeconds": 240,
                  "template": {"spec": {"restartPolicy": "Never", "subdomain": name, "containers": [container]}}}},
    ]


def _follow(cluster: KubernetesTarget, name: str) -> tuple[Any, list[str]]:
    lines: list[str] = []
    outcome = follow_job(cluster, cluster.default_namespace, name, timeout_s=300,
                         on_line=lambda pod, line: lines.append(f"[{pod}] {line}"), on_event=lambda _: None)
    return outcome, lines


def test_submit_follow_reapply_and_delete(cluster: KubernetesTarget) -> None:
    name = f"mlops-test-{uuid.uuid4().hex[:6]}"
    objects = manifests(name, fail=False)
    try:
        assert [str(a) for a in cluster.apply(objects)] == [f"service/{name} created", f"job.batch/{name} created"]
        outcome, lines = _follow(cluster, name)
        assert outcome.ok, lines
        assert sorted(lines) == [f"[index {i}] index {i} of {name} says hello" for i in (0, 1)]
        assert [str(a) for a in cluster.apply(objects)][1] == f"job.batch/{name} unchanged"
    finally:
        cluster.delete(objects)


def test_a_failing_job_reports_its_reason(cluster: KubernetesTarget) -> None:
    name = f"mlops-test-{uuid.uuid4().hex[:6]}"
    objects = manifests(name, fail=True)
    try:
        cluster.apply(objects)
        outcome, _ = _follow(cluster, name)
        assert (outcome.status.phase, outcome.status.reason) == ("failed", "BackoffLimitExceeded")
        assert outcome.failed_pods and all(p.exit_code == 1 for p in outcome.failed_pods)
    finally:
        cluster.delete(objects)


def test_the_example_models_training_job(cluster: KubernetesTarget, example_repo: Path) -> None:
    image = os.environ.get("MLOPS_TRAINING_IMAGE")
    if not image:
        pytest.skip("set MLOPS_TRAINING_IMAGE to an image with this repository to train on the cluster")
    from mlops.train.remote import train_on_cluster

    remote = os.environ.get("MLOPS_TEST_DVC_REMOTE")
    if remote:
        (example_repo / ".dvc" / "config.local").write_text(
            f"[core]\n    no_scm = true\n    remote = shared\n['remote \"shared\"']\n    url = {remote}\n")
    out = io.StringIO()
    code = train_on_cluster(example_repo, "cancer-mlp", image=image, namespace=cluster.default_namespace,
                            label=uuid.uuid4().hex[:6], cluster=cluster, fetch=bool(remote), out=out)
    assert code == 0, out.getvalue()
    assert len(list((example_repo / "models" / "cancer-mlp" / "versions").glob("*.yaml"))) == 1
