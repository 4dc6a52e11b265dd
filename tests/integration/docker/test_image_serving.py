"""The serving image on a real Docker engine: build from the debootstrap base with the wheelhouse, push to the
local registry, pull by digest, run with --network host, infer, read /metrics, SIGTERM → exit 0."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlops.core.spec import runtime
from tests.conftest import run_cli
from tests.integration.docker.conftest import DockerFacts, Trained, free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow]
READY_TIMEOUT_S = 120
HEALTHY_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def image(docker_facts: DockerFacts, trained: Trained) -> dict[str, Any]:
    """`mlops build-image --push --json` of the trained version (layers cached between runs)."""
    res = run_cli("build-image", trained.ref, "--repo", str(trained.repo), "--base-image", docker_facts.base_image,
                  "--wheelhouse", str(docker_facts.wheelhouse), "--registry", f"{docker_facts.registry}/mlops-test",
                  "--source", "https://github.com/acme/models", "--push", "--json", cwd=trained.repo)
    assert res.code == 0, res.err[-3000:]
    result: dict[str, Any] = json.loads(res.out)
    assert "Step 1/" in res.err and "Successfully built" in res.err, "build logs stream as plain lines"
    return result


def _http(url: str, body: bytes | None = None, timeout: float = 10) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_pushed_image_pulls_by_registry_digest(docker_facts: DockerFacts, image: dict[str, Any],
                                               trained: Trained) -> None:
    digest = image["digest"]
    repository = f"{docker_facts.registry}/mlops-test/digits-cnn"
    assert digest.startswith("sha256:") and image["reference"] == f"{repository}@{digest}"
    assert image["tag"] == f"{repository}:{trained.version}"
    # the registry itself names the manifest by this digest
    req = urllib.request.Request(f"http://{docker_facts.registry}/v2/mlops-test/digits-cnn/manifests/{trained.version}",
                                 headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers["Docker-Content-Digest"] == digest
    client: Any = docker_facts.client
    keep = f"mlops-test-keep:{trained.version}"  # keeps the layers local: the pull resolves the digest, copies nothing
    client.images.get(image["tag"]).tag(keep)
    try:
        client.images.remove(image["tag"])
        pulled = client.images.pull(image["reference"])
        assert image["reference"] in pulled.attrs["RepoDigests"]
        assert pulled.id == image["image_id"]
    finally:
        client.images.remove(keep)


def test_image_follows_the_container_contract(docker_facts: DockerFacts, image: dict[str, Any],
                                              trained: Trained) -> None:
    config = docker_facts.client.images.get(image["reference"]).attrs["Config"]  # type: ignore[attr-defined]
    assert config["User"] == f"{runtime.UID}:{runtime.UID}"
    assert config["Entrypoint"] == ["mlops"]
    assert config["Cmd"] == ["serve", "--artifact", runtime.ARTIFACT_PATH, "--record", runtime.RECORD_PATH,
                             "--config", runtime.CONFIG_PATH, "--host", "0.0.0.0", "--port", str(runtime.PORT)]
    assert "/v2/health/ready" in " ".join(config["Healthcheck"]["Test"])
    labels = config["Labels"]
    record = (trained.repo / "models" / "digits-cnn" / "versions" / f"{trained.version}.yaml").read_text()
    assert labels["mlops.dev/model"] == "digits-cnn" and labels["mlops.dev/version"] == trained.version
    assert labels["mlops.dev/artifact-digest"] == image["artifact_digest"]
    assert labels["org.opencontainers.image.source"] == "https://github.com/acme/models"
    assert labels["org.opencontainers.image.version"] == trained.version
    assert f"created: '{labels['org.opencontainers.image.created']}'" in record
    assert f"commit: {labels['org.opencontainers.image.revision']}" in record
    container = docker_facts.client.containers.run(  # type: ignore[attr-defined]
        image["reference"], entrypoint=["sh", "-c"], detach=True, read_only=True, network_mode="none",
        command=["id -u; cd /opt/mlops/artifact && sha256sum * | sha256sum; cat /opt/mlops/record.yaml | sha256sum"])
    try:  # detached + wait + logs: a non-detached run leaves the SDK's log stream (a socket) open
        assert container.wait(timeout=60)["StatusCode"] == 0
        out = container.logs()
    finally:
        container.remove(force=True)
    uid, manifest_digest, record_sum = out.decode().split("\n")[:3]
    assert uid == str(runtime.UID)
    assert "sha256:" + manifest_digest.split()[0] == image["artifact_digest"]
    import hashlib

    assert record_sum.split()[0] == hashlib.sha256(record.encode()).hexdigest()


def test_build_refuses_an_artifact_changed_in_the_context(docker_facts: DockerFacts, trained: Trained,
                                                          tmp_path: Path) -> None:
    from mlops.adapters.image import ImageError
    from mlops.adapters.image.docker import DockerImageBuilder

    ctx = tmp_path / "ctx"
    res = run_cli("build-image", trained.ref, "--repo", str(trained.repo), "--base-image", docker_facts.base_image,
                  "--wheelhouse", str(docker_facts.wheelhouse), "--context-only", str(ctx), cwd=trained.repo)
    assert res.code == 0, res.err
    card = ctx / "artifact" / "MODEL_CARD.md"
    card.write_text(card.read_text() + "\nchanged after verification\n")
    with DockerImageBuilder() as builder, pytest.raises(ImageError) as err:
        builder.build(ctx, f"{docker_facts.registry}/mlops-test/tampered:1", log=lambda _: None)
    assert "returned a non-zero code" in str(err.value)
    assert any("does not match the version record's" in line for line in err.value.tail)


def test_build_failure_prints_the_last_log_lines(docker_facts: DockerFacts, trained: Trained) -> None:
    res = run_cli("build-image", trained.ref, "--repo", str(trained.repo), "--wheelhouse",
                  str(docker_facts.wheelhouse), "--base-image", f"{docker_facts.registry}/mlops-test/no-such-base:1",
                  cwd=trained.repo)
    assert res.code == 1
    assert "docker:1:1: docker build failed:" in res.err
    assert "  | Step 1/" in res.err and "Traceback" not in res.err


def test_pin_records_the_pushed_digest_in_the_environment(docker_facts: DockerFacts, image: dict[str, Any],
                                                          trained: Trained) -> None:
    env_file = trained.repo / "environments" / "dev.yaml"
    original = env_file.read_text()
    env_file.write_text(original.replace("pins: {}", f"pins:\n  digits-cnn: {trained.version}  # promoted"))
    try:
        res = run_cli("build-image", trained.ref, "--repo", str(trained.repo), "--base-image", docker_facts.base_image,
                      "--wheelhouse", str(docker_facts.wheelhouse), "--registry", f"{docker_facts.registry}/mlops-test",
                      "--source", "https://github.com/acme/models", "--push", "--pin", "dev", cwd=trained.repo)
        assert res.code == 0, res.err[-3000:]
        digest = next(line.split()[1] for line in res.out.splitlines() if line.startswith("digest sha256:"))
        assert f'  digits-cnn: {{version: {trained.version}, image: "{digest}"}}  # promoted\n' in env_file.read_text()
        assert run_cli("validate", "--repo", str(trained.repo)).code == 0
    finally:
        env_file.write_text(original)


def test_served_image_answers_inference_and_metrics_then_stops_on_sigterm(
        docker_facts: DockerFacts, image: dict[str, Any], trained: Trained) -> None:
    from mlops.adapters.artifacts.loader import load_verified
    from mlops.validate.validate import load_valid

    port = free_port()
    client: Any = docker_facts.client
    container = client.containers.run(
        image["reference"], detach=True, network_mode="host", read_only=True, tmpfs={"/tmp": "rw,size=64m"},
        environment={"MLOPS_PORT": str(port)},
        command=["serve", "--artifact", runtime.ARTIFACT_PATH, "--record", runtime.RECORD_PATH,
                 "--config", runtime.CONFIG_PATH, "--host", "127.0.0.1", "--port", str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while _http_ok(f"{base}/v2/health/ready") is False:
            container.reload()
            assert container.status == "running", container.logs().decode()[-3000:]
            assert time.monotonic() < deadline, f"not ready in {READY_TIMEOUT_S} s: {container.logs().decode()[-3000:]}"
            time.sleep(0.5)

        rows = np.random.default_rng(0).uniform(0, 16, size=(3, 64)).astype(np.float32)
        body = {"id": "req-1", "inputs": [{"name": "input", "datatype": "FP32", "shape": [3, 64],
                                           "data": rows.ravel().tolist()}]}
        status, raw = _http(f"{base}/v2/models/digits-cnn/infer", json.dumps(body).encode())
        assert status == 200, raw
        answer = json.loads(raw)
        assert answer["model_name"] == "digits-cnn" and answer["id"] == "req-1"
        out = answer["outputs"][0]
        assert out["shape"] == [3, 10] and out["datatype"] == "FP32"
        repo = load_valid(trained.repo)
        record = repo.records["digits-cnn"][trained.version].spec
        local = load_verified(trained.repo / "models" / "digits-cnn" / "versions" / trained.version, record)
        np.testing.assert_allclose(np.array(out["data"], np.float32).reshape(3, 10), local.predict(rows),
                                   rtol=1e-5, atol=1e-5)

        status, raw = _http(f"{base}/v2/models/digits-cnn/infer", b'{"inputs": [{"name": "input"}]}')
        assert status == 400 and b"inputs[0]" in raw

        status, metrics = _http(f"{base}/metrics")
        text = metrics.decode()
        assert status == 200
        assert "mlops_serve_requests_total" in text and "mlops_serve_batch_size_bucket" in text
        assert f'version="{trained.version}"' in text and image["artifact_digest"] in text

        deadline = time.monotonic() + HEALTHY_TIMEOUT_S  # the image's own HEALTHCHECK, on MLOPS_PORT
        while (health := client.api.inspect_container(container.id)["State"]["Health"]["Status"]) != "healthy":
            assert health != "unhealthy" and time.monotonic() < deadline, health
            time.sleep(1)

        container.stop(timeout=30)  # SIGTERM: drain, then exit 0
        assert container.wait(timeout=60)["StatusCode"] == 0, container.logs().decode()[-3000:]
    finally:
        container.remove(force=True)


def _http_ok(url: str) -> bool:
    try:
        return _http(url, timeout=2)[0] == 200
    except OSError:
        return False
