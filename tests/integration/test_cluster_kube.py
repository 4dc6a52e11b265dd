"""`train --backend kubernetes` through the official client, against a stand-in API server.

No kube-apiserver can be installed on these machines, so these tests run against ``kube_stub.KubeStub``:
a local HTTP server that speaks the real REST paths, content types and Status objects and simulates the
Job controller (see its docstring for exactly what it covers). The client is configured the way users
configure it, from a kubeconfig file (bearer token, no TLS). ``test_cluster_real.py`` runs the same flow
against a real cluster (kind/k3d) when one is reachable.
"""

from __future__ import annotations

import io
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kube_stub import KubeStub, Recorded, Script

from mlops.adapters.cluster.base import HASH_ANNOTATION, ClusterError
from mlops.adapters.cluster.kube import KubernetesTarget
from mlops.core.errors import UsageError
from mlops.train.remote import train_on_cluster

TOKEN = "s3cr3t-token-0123456789abcdef"
NS = "mlops-dev"  # the dev environment's namespace in the example repository
JOB = "train-digits-cnn-run1"


def write_kubeconfig(path: Path, server: str, token: str = TOKEN, namespace: str = "team") -> Path:
    path.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: stub, cluster: {{server: "{server}"}}}}]
users: [{{name: ci, user: {{token: "{token}"}}}}]
contexts: [{{name: stub, context: {{cluster: stub, user: ci, namespace: {namespace}}}}}]
current-context: stub
""")
    return path


@pytest.fixture
def stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeStub]:
    with KubeStub(token=TOKEN) as server:
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kubeconfig", server.url)))
        monkeypatch.delenv("MLOPS_TRAINING_IMAGE", raising=False)
        yield server


def train(repo: Path, **kwargs: object) -> tuple[int, str]:
    out = io.StringIO()
    options: dict[str, object] = {"image": "registry.example/train:1", "label": "run1", "poll_s": 0.1, **kwargs}
    code = train_on_cluster(repo, "digits-cnn", out=out, **options)  # type: ignore[arg-type]
    return code, out.getvalue()


def writes(stub: KubeStub) -> list[Recorded]:
    return [r for r in stub.requests if r.method != "GET"]


def test_submit_and_follow_to_success(stub: KubeStub, example_repo: Path) -> None:
    code, out = train(example_repo)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[:2] == [f"service/{JOB} created", f"job.batch/{JOB} created"]
    assert [line for line in lines if line.startswith("[index")] == \
        ["[index 0] rank 0 starting", "[index 0] epoch 1 loss 0.5", "[index 0] rank 0 done"]
    assert lines[-1].startswith(f"job/{JOB} succeeded in ") and lines[-1].endswith("s (1/1 completed)")
    service, job = writes(stub)[:2]
    # the headless Service is server-side applied; the Job is created as JSON
    assert (service.method, service.path, service.content_type) == (
        "PATCH", f"/api/v1/namespaces/{NS}/services/{JOB}", "application/apply-patch+yaml")
    assert service.query == {"fieldManager": "mlops", "force": "true"}
    assert (job.method, job.path, job.content_type) == ("POST", f"/apis/batch/v1/namespaces/{NS}/jobs",
                                                        "application/json")
    assert (job.body["kind"], job.body["spec"]["completionMode"]) == ("Job", "Indexed")
    assert job.body["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/train:1"
    assert len(job.body["metadata"]["annotations"][HASH_ANNOTATION]) == 64
    assert TOKEN not in out


def test_a_failed_job_exits_1_with_the_reason(stub: KubeStub, example_repo: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    stub.scripts[JOB] = Script(lines=["loading data", "Traceback: CUDA out of memory"], fail_indexes=frozenset({0}))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, out = train(example_repo)
    assert code == 1
    last = out.splitlines()[-1]
    assert last.startswith(f"job/{JOB} failed after ")
    assert last.endswith("BackoffLimitExceeded: Job has reached the specified backoff limit — "
                         "index 0 exit code 1 (Error)")
    assert out.count("[index 0] Traceback: CUDA out of memory") == 3  # backoffLimit 2: three attempts, all followed
    assert capsys.readouterr().out == f"::error title=training job failed::{last}\n"  # a GitHub annotation


def test_timeout_deletes_the_job_and_its_pods(stub: KubeStub, example_repo: Path) -> None:
    stub.scripts[JOB] = Script(hang=True)
    code, out = train(example_repo, timeout_s=1.5)
    assert code == 1
    assert "[index 0] rank 0 done" in out
    last = out.splitlines()[-1]
    assert last.startswith(f"job/{JOB} timed out after ") and last.endswith("; deleted it and its pods")
    delete = [r for r in writes(stub) if r.method == "DELETE"]
    assert [(r.path, r.query) for r in delete] == [(f"/apis/batch/v1/namespaces/{NS}/jobs/{JOB}",
                                                     {"propagationPolicy": "Background"})]
    assert stub.list("pods", NS) == [] and stub.get("jobs", NS, JOB) is None


def test_a_pod_that_cannot_start_is_reported(stub: KubeStub, example_repo: Path) -> None:
    stub.scripts[JOB] = Script(waiting_reason="ImagePullBackOff")
    code, out = train(example_repo, timeout_s=1.5)
    assert code == 1
    assert "(index 0) waiting: ImagePullBackOff" in out
    assert "timed out" in out.splitlines()[-1]


def test_a_cut_log_stream_is_resumed_without_repeating_lines(stub: KubeStub, example_repo: Path) -> None:
    lines = [f"epoch {i}" for i in range(1, 6)]
    stub.scripts[JOB] = Script(lines=lines, line_delay_s=0.4, cut_log_after=2)  # as an idle proxy would
    code, out = train(example_repo)
    assert code == 0, out
    assert [line for line in out.splitlines() if line.startswith("[index 0]")] == [f"[index 0] {x}" for x in lines]
    streams = [r.query for r in stub.requests if r.path.endswith("/log")]
    assert streams[0] == {"follow": "true"} and streams[1] == {"follow": "true", "tailLines": "0"}


def test_reapply_is_idempotent_and_replaces_changed_or_failed_jobs(stub: KubeStub, example_repo: Path) -> None:
    assert train(example_repo)[0] == 0
    code, out = train(example_repo)  # same commit, same manifest: the finished Job is followed, not re-run
    assert code == 0 and f"job.batch/{JOB} unchanged" in out
    posts = [(r.method, r.path) for r in writes(stub)]
    assert posts.count(("POST", f"/apis/batch/v1/namespaces/{NS}/jobs")) == 2  # the second got 409 AlreadyExists
    assert ("DELETE", f"/apis/batch/v1/namespaces/{NS}/jobs/{JOB}") not in posts

    first_uid = stub.get("jobs", NS, JOB)["metadata"]["uid"]  # type: ignore[index]
    code, out = train(example_repo, image="registry.example/train:2")
    assert code == 0 and f"job.batch/{JOB} replaced" in out
    assert stub.get("jobs", NS, JOB)["metadata"]["uid"] != first_uid  # type: ignore[index]

    stub.scripts[JOB] = Script(fail_indexes=frozenset({0}))
    target = KubernetesTarget.from_kubeconfig()
    try:
        manifest = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "flaky", "namespace": NS},
                    "spec": {"backoffLimit": 0, "template": {"spec": {
                        "restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}}}}
        stub.scripts["flaky"] = Script(fail_indexes=frozenset({0}))
        assert [str(a) for a in target.apply([manifest])] == ["job.batch/flaky created"]
        while not target.job_status(NS, "flaky").finished:
            time.sleep(0.05)
        stub.scripts["flaky"] = Script()
        assert [str(a) for a in target.apply([manifest])] == ["job.batch/flaky replaced"]  # failed: run it again
    finally:
        target.close()


def test_no_follow_submits_and_says_how_to_follow(stub: KubeStub, example_repo: Path) -> None:
    code, out = train(example_repo, follow=False, namespace="elsewhere")
    assert code == 0
    assert out.splitlines()[-1] == (f"job/{JOB} submitted to namespace elsewhere; follow it with: kubectl -n "
                                    f"elsewhere logs -f --all-containers --prefix -l "
                                    f"batch.kubernetes.io/job-name={JOB}")
    assert stub.get("jobs", "elsewhere", JOB) is not None


def test_credentials_never_reach_the_output(tmp_path: Path, example_repo: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    with KubeStub(token="the-right-token") as server:  # our token is refused: 401
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kc", server.url)))
        with pytest.raises(ClusterError) as err:
            train(example_repo)
        assert str(err.value) == (f"kubernetes:1:1: apply Service {NS}/{JOB}: 401 Unauthorized: Unauthorized")
        assert TOKEN not in str(err.value)
        assert server.requests[0].content_type == "application/apply-patch+yaml"
        assert TOKEN not in json.dumps([r.body for r in server.requests])


def test_unreachable_server_and_missing_kubeconfig(tmp_path: Path, example_repo: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{port}")))
    with pytest.raises(ClusterError, match=rf"cannot reach the Kubernetes API server at http://127.0.0.1:{port} "):
        train(example_repo)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ClusterError, match=r"no kubeconfig at .*missing; set KUBECONFIG"):
        train(example_repo)
    with pytest.raises(ClusterError, match="has no context 'nope' \\(it has: stub\\)"):
        KubernetesTarget.from_kubeconfig(context="nope", config_file=str(tmp_path / "kc"))


def test_an_image_is_required_on_a_cluster(stub: KubeStub, example_repo: Path) -> None:
    with pytest.raises(UsageError, match="--image is required with --target kubernetes"):
        train(example_repo, image=None)
    assert stub.requests == []


def test_the_kubeconfig_namespace_is_the_default(stub: KubeStub) -> None:
    target = KubernetesTarget.from_kubeconfig()
    try:
        assert target.default_namespace == "team"
        manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}}
        assert [str(a) for a in target.apply([manifest])] == ["configmap/settings created"]
        assert stub.get("configmaps", "team", "settings") is not None
        assert target.delete([manifest]) == ["configmap/settings deleted"]
        assert target.delete([manifest]) == ["configmap/settings not found"]
        with pytest.raises(ClusterError, match="cannot apply Deployment \\(apps/v1\\) d"):
            target.apply([{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}])
        with pytest.raises(ClusterError, match="read job team/none: 404 NotFound: jobs \"none\" not found"):
            target.job_status("team", "none")
    finally:
        target.close()
