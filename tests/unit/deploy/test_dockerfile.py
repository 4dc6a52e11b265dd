"""The serving image's Dockerfile: non-root, no network, no secrets, labelled, health-checked, digest-checked."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops.core import lineage
from mlops.core.errors import UserError
from mlops.core.spec import runtime
from mlops.deploy import image_context
from mlops.deploy.image_context import ImageSpec, healthcheck_command, render_dockerfile

DIGEST = "sha256:" + "ab" * 32
LABELS = {"org.opencontainers.image.title": "digits-cnn", "org.opencontainers.image.version": "20250102-0a1b2c3d",
          "org.opencontainers.image.created": "2025-01-02T03:04:05Z", "mlops.dev/artifact-digest": DIGEST}


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


@pytest.fixture
def dockerfile() -> str:
    return render_dockerfile(ImageSpec("digits-cnn", "20250102-0a1b2c3d", DIGEST, "mlops-base:bookworm", LABELS))


def test_stages_start_from_the_configured_base_image(dockerfile: str) -> None:
    froms = [args for word, args in instructions(dockerfile) if word == "FROM"]
    assert froms == ["mlops-base:bookworm AS deps", "mlops-base:bookworm"]


def test_default_base_image_is_python_slim() -> None:
    text = render_dockerfile(ImageSpec("m", "v1", DIGEST))
    assert [a for w, a in instructions(text) if w == "FROM"][-1] == image_context.DEFAULT_BASE_IMAGE == \
        "python:3.11-slim"


def test_runs_as_the_numeric_non_root_user_of_the_runtime_contract(dockerfile: str) -> None:
    steps = instructions(dockerfile)
    users = [(i, a) for i, (w, a) in enumerate(steps) if w == "USER"]
    assert users == [(users[0][0], f"{runtime.UID}:{runtime.UID}")] and runtime.UID == 10001
    assert not any(w == "RUN" for w, _ in steps[users[0][0]:]), "nothing runs as root after USER"
    assert f"mlops:x:{runtime.UID}:{runtime.UID}:" in dockerfile


def test_pip_installs_only_from_the_wheelhouse(dockerfile: str) -> None:
    installs = [a for w, a in instructions(dockerfile) if w == "RUN" and "pip install" in a]
    assert len(installs) == 2
    for args in installs:
        assert "--no-index" in args
        assert "--index-url" not in args and "--extra-index-url" not in args and "http" not in args
    assert "--requirement /wheels/deps/requirements.lock" in installs[0]
    assert "--no-deps" in installs[1]


def test_no_build_arguments_and_no_secret_like_environment(dockerfile: str) -> None:
    steps = instructions(dockerfile)
    assert not [a for w, a in steps if w == "ARG"]
    env = " ".join(a for w, a in steps if w == "ENV").upper()
    for word in ("TOKEN", "SECRET", "PASSWORD", "KEY", "CREDENTIAL", "AWS_", "GITHUB_"):
        assert word not in env
    copies = [a for w, a in steps if w in ("COPY", "ADD")]
    assert not [a for w, a in steps if w == "ADD"], "ADD can fetch URLs; only COPY is used"
    sources = {a.split()[0] for a in copies if not a.startswith("--from")} | {
        s for a in copies if not a.startswith("--from") for s in a.split()[:-1]}
    assert sources <= {"wheels/deps/", "wheels/mlops/", "artifact/", "artifact.sha256", "record.yaml", "serving.json"}


def test_artifact_record_and_config_are_where_the_runtime_contract_says(dockerfile: str) -> None:
    steps = instructions(dockerfile)
    copies = [a for w, a in steps if w == "COPY"]
    assert f"artifact/ {runtime.ARTIFACT_PATH}/" in copies
    assert "artifact.sha256 record.yaml /opt/mlops/" in copies
    assert f"serving.json {runtime.CONFIG_PATH}" in copies
    assert runtime.RECORD_PATH == "/opt/mlops/record.yaml"


def test_entrypoint_and_default_command_follow_the_runtime_contract(dockerfile: str) -> None:
    steps = dict(instructions(dockerfile))
    assert json.loads(steps["ENTRYPOINT"]) == ["mlops"]
    assert json.loads(steps["CMD"]) == ["serve", "--artifact", "/opt/mlops/artifact", "--record",
                                        "/opt/mlops/record.yaml", "--config", "/etc/mlops/serving.json",
                                        "--host", "0.0.0.0", "--port", "8080"]
    assert steps["EXPOSE"] == "8080"


def test_labels_are_one_instruction_with_quoted_values(dockerfile: str) -> None:
    labels = [a for w, a in instructions(dockerfile) if w == "LABEL"]
    assert len(labels) == 1
    for key, value in LABELS.items():
        assert f'{key}="{value}"' in labels[0]


def test_label_values_are_escaped_and_single_line() -> None:
    text = render_dockerfile(ImageSpec("m", "v1", DIGEST, labels={"a": 'say "hi" $HOME \\ ok'}))
    assert 'a="say \\"hi\\" \\$HOME \\\\ ok"' in text
    with pytest.raises(UserError, match="spans lines"):
        render_dockerfile(ImageSpec("m", "v1", DIGEST, labels={"a": "two\nlines"}))


def test_bad_base_image_and_digest_are_refused() -> None:
    with pytest.raises(UserError, match="not an image reference"):
        render_dockerfile(ImageSpec("m", "v1", DIGEST, base_image="python:3.11 AS evil"))
    with pytest.raises(UserError, match="sha256:<64 hex>"):
        render_dockerfile(ImageSpec("m", "v1", "sha256:abc"))


def test_rendering_is_byte_deterministic(dockerfile: str) -> None:
    again = render_dockerfile(ImageSpec("digits-cnn", "20250102-0a1b2c3d", DIGEST, "mlops-base:bookworm", LABELS))
    assert again == dockerfile


def test_healthcheck_probes_readiness_with_the_image_python(dockerfile: str) -> None:
    health = dict(instructions(dockerfile))["HEALTHCHECK"]
    assert health.startswith("--interval=")
    command = json.loads(health.split(" CMD ", 1)[1])
    assert command == healthcheck_command()
    assert command[0] == "/opt/venv/bin/python" and "/v2/health/ready" in command[2]


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/v2/health/ready" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("status", "code"), [(200, 0), (503, 1)])
def test_healthcheck_one_liner_exits_by_readiness(health_server: http.server.HTTPServer, status: int,
                                                  code: int) -> None:
    _Health.status = status
    env = {**os.environ, "MLOPS_PORT": str(health_server.server_address[1])}
    proc = subprocess.run([sys.executable, *healthcheck_command()[1:]], env=env, capture_output=True, timeout=30,
                          check=False)
    assert proc.returncode == code


def _digest_check_script(dockerfile: str, mlops_dir: Path) -> str:
    run = next(a for w, a in instructions(dockerfile) if w == "RUN" and "sha256sum" in a)
    return run.replace(runtime.ARTIFACT_PATH, str(mlops_dir / "artifact")).replace("/opt/mlops", str(mlops_dir))


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum is not installed")
@pytest.mark.parametrize("tamper", [None, "change", "add", "remove"])
def test_build_time_digest_check_refuses_a_changed_artifact(tmp_path: Path, tamper: str | None) -> None:
    art = tmp_path / "artifact"
    art.mkdir()
    (art / "program.pt2").write_bytes(b"program")
    (art / "MODEL_CARD.md").write_text("card\n")
    (art / "signature.json").write_text("{}\n")
    digest, files = lineage.hash_artifact(art)
    (tmp_path / "artifact.sha256").write_text(lineage.manifest(files))
    script = _digest_check_script(render_dockerfile(ImageSpec("m", "v1", digest)), tmp_path)
    if tamper == "change":
        (art / "program.pt2").write_bytes(b"evil")
    elif tamper == "add":
        (art / "extra.bin").write_bytes(b"x")
    elif tamper == "remove":
        (art / "MODEL_CARD.md").unlink()
    proc = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30, check=False)
    if tamper is None:
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode != 0
        assert f"does not match the version record's {digest}" in proc.stderr
