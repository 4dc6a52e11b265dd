"""`train --backend kubernetes` through the official client, against a stand-in API server.

No kube-apiserver can be installed on these machines, so these tests run against ``kube_stub.KubeStub``:
a local HTTP server that speaks the real REST paths, content types and Status objects and simulates the
Job controller (see its docstring for exactly what it covers). The client is configured the way users
configure it, from a kubeconfig file (bearer token, no TLS). ``test_cluster_real.py`` runs the same flow
against a real cluster (kind/k3d) when one is reachable.

The stub's pods print what a real training pod prints last: the hand-back block of a version record
whose artifact is really in a DVC remote (made once per module with DVC itself), so the record is
collected, checked, fetched and written into the example repository.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from mlops.adapters.artifacts.dvc import run_dvc
from mlops.adapters.cluster.base import HASH_ANNOTATION, ClusterError
from mlops.adapters.cluster.kube import KubernetesTarget
from mlops.core.errors import UsageError, UserError
from mlops.core.lineage import hash_artifact, version_id
from mlops.train.handback import encode
from mlops.train.record import finalize
from mlops.train.remote import train_on_cluster
from mlops.validate.validate import load_valid
from tests.helpers.kube_stub import KubeStub, Recorded, Script, write_kubeconfig

TOKEN = "s3cr3t-token-0123456789abcdef"
NS = "mlops-dev"  # the dev environment's namespace in the example repository
JOB = "train-digits-cnn-run1"


@dataclass(frozen=True)
class HandedBack:
    """A version record of digits-cnn, its DVC pointer, and the remote that holds its artifact."""

    remote: Path
    version: str
    files: dict[str, str]

    @property
    def record(self) -> str:
        return f"models/digits-cnn/versions/{self.version}.yaml"

    @property
    def pointer(self) -> str:
        return f"models/digits-cnn/versions/{self.version}.dvc"

    def block(self, files: dict[str, str] | None = None) -> list[str]:
        return encode(self.files if files is None else files)


@pytest.fixture(scope="module")
def handed_back(tmp_path_factory: pytest.TempPathFactory) -> HandedBack:
    """What a training pod leaves: the artifact pushed with `dvc push`, the record and `dvc add`'s pointer."""
    base = tmp_path_factory.mktemp("handback")
    pod, remote = base / "pod", base / "remote"
    (pod / ".dvc").mkdir(parents=True)
    (pod / ".dvc" / "config").write_text(f"[core]\n    no_scm = true\n    remote = shared\n['remote \"shared\"']\n"
                                         f"    url = {remote}\n")
    artifact = base / "artifact"
    artifact.mkdir()
    for name, text in {"program.pt2": "weights", "signature.json": "{}", "metrics.json": "{}",
                       "MODEL_CARD.md": "# digits-cnn\n"}.items():
        (artifact / name).write_text(text)
    digest, files = hash_artifact(artifact)
    version = version_id(digest, datetime(2025, 1, 2, tzinfo=UTC))
    rel = f"models/digits-cnn/versions/{version}"
    shutil.copytree(artifact, pod / rel)
    run_dvc(pod, "add", "--quiet", rel)
    run_dvc(pod, "push", "--quiet", f"{rel}.dvc")
    data = {"path": "data/digits/digits.csv", "md5": "0" * 32 + ".dir", "rows": {"test": 3}}
    _, text = finalize({
        "model": "digits-cnn", "version": version, "created": "2025-01-02T00:00:00Z",
        "artifact": {"digest": digest, "uri": f"dvc://{rel}", "files": files},
        "data": data, "code": {"commit": "0" * 40, "model_py_sha256": "sha256:" + "1" * 64}, "seed": 1,
        "metrics": {"accuracy": 0.5}, "evaluation_data": data,
        "environment": {"python": "3.11", "torch": "2", "mlops": "0", "device": "cpu", "cpu": "x"},
        "duration_s": 1.0})
    return HandedBack(remote, version, {f"{rel}.yaml": text, f"{rel}.dvc": (pod / f"{rel}.dvc").read_text()})


@pytest.fixture
def stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, example_repo: Path,
         handed_back: HandedBack) -> Iterator[KubeStub]:
    (example_repo / ".dvc" / "config.local").write_text(
        f"[core]\n    no_scm = true\n    remote = shared\n['remote \"shared\"']\n    url = {handed_back.remote}\n")
    with KubeStub(token=TOKEN) as server:
        server.scripts[JOB] = Script(last_lines=handed_back.block())
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kubeconfig", server.url)))
        monkeypatch.delenv("MLOPS_TRAINING_IMAGE", raising=False)
        monkeypatch.delenv("MLOPS_TRAINING_SECRET", raising=False)
        yield server


def train(repo: Path, **kwargs: object) -> tuple[int, str]:
    out = io.StringIO()
    options: dict[str, object] = {"image": "registry.example/train:1", "label": "run1", "poll_s": 0.1, **kwargs}
    code = train_on_cluster(repo, "digits-cnn", out=out, **options)  # type: ignore[arg-type]
    return code, out.getvalue()


def writes(stub: KubeStub) -> list[Recorded]:
    return [r for r in stub.requests if r.method != "GET"]


def test_submit_and_follow_to_success(stub: KubeStub, example_repo: Path, handed_back: HandedBack) -> None:
    code, out = train(example_repo, secret="dvc-remote")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[:2] == [f"service/{JOB} created", f"job.batch/{JOB} created"]
    assert [line for line in lines if line.startswith("[index")] == \
        ["[index 0] rank 0 starting", "[index 0] epoch 1 loss 0.5", "[index 0] rank 0 done"]  # no hand-back block
    assert lines[-5].startswith(f"job/{JOB} succeeded in ") and lines[-5].endswith("s (1/1 completed)")
    assert lines[-4:] == [f"digits-cnn@{handed_back.version} recorded: {handed_back.record}",
                          f"  digest  {yaml.safe_load(handed_back.files[handed_back.record])['artifact']['digest']}",
                          f"  stored  dvc://{handed_back.record[:-5]}", "  metrics accuracy 0.5000"]
    # the record and its pointer are written as the pod made them; the artifact was pulled and verified
    for rel, text in handed_back.files.items():
        assert (example_repo / rel).read_text() == text
    assert (example_repo / handed_back.record[:-5] / "program.pt2").read_text() == "weights"
    versions = example_repo / "models" / "digits-cnn" / "versions"
    assert f"/{handed_back.version}" in (versions / ".gitignore").read_text().splitlines()
    assert handed_back.version in load_valid(example_repo).records["digits-cnn"]  # `mlops validate` accepts it
    service, job = writes(stub)[:2]
    # the headless Service is server-side applied; the Job is created as JSON
    assert (service.method, service.path, service.content_type) == (
        "PATCH", f"/api/v1/namespaces/{NS}/services/{JOB}", "application/apply-patch+yaml")
    assert service.query == {"fieldManager": "mlops", "force": "true"}
    assert (job.method, job.path, job.content_type) == ("POST", f"/apis/batch/v1/namespaces/{NS}/jobs",
                                                        "application/json")
    assert (job.body["kind"], job.body["spec"]["completionMode"]) == ("Job", "Indexed")
    container = job.body["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/train:1"
    assert container["envFrom"] == [{"secretRef": {"name": "dvc-remote"}}]  # the remote's credentials, by name
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


def test_a_cut_log_stream_is_resumed_without_repeating_lines(stub: KubeStub, example_repo: Path,
                                                             handed_back: HandedBack) -> None:
    lines = [f"epoch {i}" for i in range(1, 6)]
    stub.scripts[JOB] = Script(lines=lines, line_delay_s=0.4, cut_log_after=2,  # as an idle proxy would
                               last_lines=handed_back.block())
    code, out = train(example_repo)
    assert code == 0, out
    assert [line for line in out.splitlines() if line.startswith("[index 0]")] == [f"[index 0] {x}" for x in lines]
    streams = [r.query for r in stub.requests if r.path.endswith("/log")]
    assert streams[0] == {"follow": "true"} and streams[1] == {"follow": "true", "tailLines": "0"}


def test_reapply_is_idempotent_and_replaces_changed_or_failed_jobs(stub: KubeStub, example_repo: Path) -> None:
    assert train(example_repo)[0] == 0
    code, out = train(example_repo)  # same commit, same manifest: the finished Job is followed, not re-run
    assert code == 0 and f"job.batch/{JOB} unchanged" in out
    assert " already recorded: models/digits-cnn/versions/" in out.splitlines()[-4]  # its record was written before
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
                                    f"batch.kubernetes.io/job-name={JOB}; run this command again to follow it "
                                    "and collect its version record")
    assert stub.get("jobs", "elsewhere", JOB) is not None
    assert not list((example_repo / "models" / "digits-cnn" / "versions").glob("*.yaml"))
    code, out = train(example_repo, namespace="elsewhere")  # the same Job, followed: its record is collected
    assert code == 0 and f"job.batch/{JOB} unchanged" in out
    assert " recorded: models/digits-cnn/versions/" in out.splitlines()[-4]


def versions(repo: Path) -> list[str]:
    return sorted(p.name for p in (repo / "models" / "digits-cnn" / "versions").iterdir() if p.name != ".gitkeep")


def test_a_job_that_hands_back_no_record_fails(stub: KubeStub, example_repo: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    stub.scripts[JOB] = Script()  # an image whose entry point prints no record (an older mlops, say)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, out = train(example_repo)
    assert code == 1
    last = out.splitlines()[-1]
    assert last.startswith(f"job/{JOB} succeeded but printed no version record; expected a ::mlops-record-begin:: "
                           "block in the log of index 0")
    assert capsys.readouterr().out == f"::error title=training job failed::{last}\n"
    assert versions(example_repo) == []


def test_a_damaged_block_is_named(stub: KubeStub, example_repo: Path, handed_back: HandedBack) -> None:
    block = handed_back.block()
    stub.scripts[JOB] = Script(last_lines=[*block[:2], *block[3:]])  # a line lost on the way
    code, out = train(example_repo)
    assert code == 1
    assert "printed no version record (index 0: the block's checksum does not match (a log line was lost or " \
           "altered))" in out.splitlines()[-1]


def test_a_block_cut_from_the_stream_is_read_from_the_whole_log(stub: KubeStub, example_repo: Path,
                                                                handed_back: HandedBack) -> None:
    stub.scripts[JOB] = Script(lines=["epoch 1"], cut_log_after=3, last_lines=handed_back.block())
    code, out = train(example_repo)
    assert code == 0, out
    assert (example_repo / handed_back.record).read_text() == handed_back.files[handed_back.record]
    reads = [r.query for r in stub.requests if r.path.endswith("/log")]
    assert reads[-1] == {"follow": "false"}  # the whole log, read again


@pytest.mark.parametrize(("change", "message"), [
    (lambda f, r, p: {r: f[r].replace("accuracy: 0.5", "accuracy: 0.9"), p: f[p]},
     "does not match its record_digest"),
    (lambda f, r, p: {r.replace("digits-cnn", "cancer-mlp"): f[r], p.replace("digits-cnn", "cancer-mlp"): f[p]},
     "expected a record of digits-cnn at models/digits-cnn/versions/"),
    (lambda f, r, p: {"models/digits-cnn/versions/../../../x.yaml": f[r], p: f[p]}, "expected a record of"),
    (lambda f, r, p: {r: f[r]}, "expected the record and its DVC pointer"),
    (lambda f, r, p: {r: f[r], p: f[p].replace("nfiles: 4", "nfiles: 5")}, "tracks 5 files but the record lists 4"),
    (lambda f, r, p: {r: f[r], p: "outs: []\n"}, "does not track the directory"),
    (lambda f, r, p: {r: "model: [\n", p: f[p]}, "is not a valid record"),
])
def test_a_bad_hand_back_is_refused_and_nothing_is_written(stub: KubeStub, example_repo: Path,
                                                           handed_back: HandedBack, change: object,
                                                           message: str) -> None:
    files = change(handed_back.files, handed_back.record, handed_back.pointer)  # type: ignore[operator]
    stub.scripts[JOB] = Script(last_lines=handed_back.block(files))
    with pytest.raises(UserError, match=re.escape(message)):
        train(example_repo)
    assert versions(example_repo) == []
    assert not (example_repo / "models" / "cancer-mlp" / "versions" / f"{handed_back.version}.yaml").exists()


def test_an_artifact_missing_from_the_remote_is_refused(stub: KubeStub, example_repo: Path,
                                                        handed_back: HandedBack, tmp_path: Path) -> None:
    (example_repo / ".dvc" / "config.local").write_text(  # a remote this machine sees, without the artifact
        f"[core]\n    no_scm = true\n    remote = other\n['remote \"other\"']\n    url = {tmp_path / 'empty'}\n")
    with pytest.raises(UserError, match="could not be fetched from the DVC remote and verified: `dvc pull"):
        train(example_repo)
    assert versions(example_repo) == []  # neither the pointer nor a partial artifact is left
    code, out = train(example_repo, fetch=False)  # without fetching, the files are checked and written
    assert code == 0, out
    assert versions(example_repo) == sorted([".gitignore", f"{handed_back.version}.dvc",
                                             f"{handed_back.version}.md", f"{handed_back.version}.yaml"])


def test_a_different_record_under_the_same_version_is_refused(stub: KubeStub, example_repo: Path,
                                                              handed_back: HandedBack) -> None:
    body = yaml.safe_load(handed_back.files[handed_back.record])
    del body["record_digest"]
    body["artifact"]["digest"] = "sha256:" + "e" * 64  # a valid record of another artifact under this version id
    path = example_repo / handed_back.record
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(finalize(body)[1])
    with pytest.raises(UserError, match="a different version record already exists under this version id"):
        train(example_repo)
    assert yaml.safe_load(path.read_text())["artifact"]["digest"] == "sha256:" + "e" * 64


def test_no_push_is_refused(stub: KubeStub, example_repo: Path) -> None:
    with pytest.raises(UsageError, match="--no-push cannot be used with --backend kubernetes"):
        train(example_repo, train_args=["--no-push"])
    assert stub.requests == []


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
