"""The serving image's build context: a Dockerfile from ``templates/Dockerfile.j2`` plus exactly the files it copies.

The context is assembled from scratch in a fresh directory — the verified artifact, its record, the
serving config and the wheelhouse — so nothing else from the repository or the host (``.env`` files,
credentials, ``.git``) can reach a layer. The Dockerfile has no build arguments. Its text depends only
on its inputs (byte-deterministic); the ``created`` label comes from the record, not the clock.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mlops.core import lineage
from mlops.core.errors import UserError
from mlops.core.spec import runtime
from mlops.core.spec.record import VersionRecord

TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_BASE_IMAGE = "python:3.11-slim"
MLOPS_DIR = "/opt/mlops"
MANIFEST = "artifact.sha256"
LABEL_PREFIX = "mlops.dev"


@dataclass(frozen=True)
class ImageSpec:
    """Everything the Dockerfile depends on."""

    model: str
    version: str
    digest: str  # the artifact digest, sha256:<hex>
    base_image: str = DEFAULT_BASE_IMAGE
    labels: Mapping[str, str] = field(default_factory=dict)


def oci_labels(record: VersionRecord, source: str | None) -> dict[str, str]:
    """OCI annotations plus the mlops ones; ``created`` is the record's time, so rebuilds label identically."""
    labels = {
        "org.opencontainers.image.title": record.model,
        "org.opencontainers.image.version": record.version,
        "org.opencontainers.image.revision": record.code.commit,
        "org.opencontainers.image.created": record.created,
        "org.opencontainers.image.description": f"mlops serving image of {record.model}@{record.version}",
    }
    if source:
        labels["org.opencontainers.image.source"] = source
    labels.update({
        f"{LABEL_PREFIX}/model": record.model,
        f"{LABEL_PREFIX}/version": record.version,
        f"{LABEL_PREFIX}/artifact-digest": record.artifact.digest,
        f"{LABEL_PREFIX}/record-digest": record.record_digest,
    })
    return labels


def _dquote(value: object) -> str:
    """A Dockerfile double-quoted word: backslash, quote and ``$`` escaped; one line only."""
    text = str(value)
    if "\n" in text or "\r" in text:
        raise UserError.at("Dockerfile", f"label value {text!r} spans lines; expected one line")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def healthcheck_command(port: int = runtime.PORT) -> list[str]:
    """Exec-form HEALTHCHECK: readiness on the port in ``MLOPS_PORT`` (the python of the image; no curl needed)."""
    code = ("import os, sys, urllib.request as u; "
            f"port = os.environ.get('MLOPS_PORT', '{port}'); "
            "sys.exit(u.urlopen(f'http://127.0.0.1:{port}/v2/health/ready', timeout=2).status != 200)")
    return ["/opt/venv/bin/python", "-c", code]


def serve_command(port: int = runtime.PORT) -> list[str]:
    """The default CMD: the container contract of :mod:`mlops.core.spec.runtime`."""
    return ["serve", "--artifact", runtime.ARTIFACT_PATH, "--record", runtime.RECORD_PATH,
            "--config", runtime.CONFIG_PATH, "--host", "0.0.0.0", "--port", str(port)]


def render_dockerfile(spec: ImageSpec) -> str:
    env = ImmutableSandboxedEnvironment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                                        autoescape=False, keep_trailing_newline=True, trim_blocks=True,
                                        lstrip_blocks=True, auto_reload=False)
    env.filters["dquote"] = _dquote
    env.filters["json"] = _json
    if not _is_sha256(spec.digest):
        raise UserError.at("record", f"artifact digest {spec.digest!r} is not sha256:<64 hex>")
    if any(c.isspace() for c in spec.base_image) or not spec.base_image:
        raise UserError.at("--base-image", f"{spec.base_image!r} is not an image reference")
    return env.get_template("Dockerfile.j2").render(
        model=spec.model, version=spec.version, base_image=spec.base_image, uid=runtime.UID, port=runtime.PORT,
        artifact_path=runtime.ARTIFACT_PATH, mlops_dir=MLOPS_DIR, config_path=runtime.CONFIG_PATH,
        digest_hex=spec.digest.removeprefix("sha256:"), labels=dict(spec.labels),
        healthcheck=healthcheck_command(), command=serve_command(),
    )


def _is_sha256(digest: str) -> bool:
    hexpart = digest.removeprefix("sha256:")
    return digest.startswith("sha256:") and len(hexpart) == 64 and all(c in "0123456789abcdef" for c in hexpart)


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


@dataclass(frozen=True)
class ContextInputs:
    artifact: Path  # the verified artifact directory
    record: VersionRecord
    record_bytes: bytes  # the record file exactly as committed
    serving_json: str
    deps: list[Path]  # the wheels of the locked dependencies
    lock: str  # their requirements.lock
    mlops_wheels: Path  # a directory with the mlops wheel


def assemble(ctx: Path, spec: ImageSpec, inputs: ContextInputs) -> list[str]:
    """Write the build context into the empty directory ``ctx``; return its files (relative, sorted)."""
    if not any(inputs.mlops_wheels.glob("mlops_gitops-*.whl")):
        raise UserError.at(str(inputs.mlops_wheels), "wheelhouse has no mlops_gitops wheel")
    ctx.mkdir(parents=True, exist_ok=True)
    (ctx / "Dockerfile").write_text(render_dockerfile(spec), encoding="utf-8")
    (ctx / "artifact").mkdir()
    for name in sorted(inputs.record.artifact.files):  # copied, not linked: the image user must read them
        shutil.copyfile(inputs.artifact / name, ctx / "artifact" / name)
        (ctx / "artifact" / name).chmod(0o644)
    (ctx / MANIFEST).write_text(lineage.manifest(inputs.record.artifact.files), encoding="utf-8")
    (ctx / "record.yaml").write_bytes(inputs.record_bytes)
    (ctx / "serving.json").write_text(inputs.serving_json, encoding="utf-8")
    wheels = ctx / "wheels"
    wheels.mkdir()
    (wheels / "deps").mkdir()
    for wheel in inputs.deps:
        _link_or_copy(str(wheel), str(wheels / "deps" / wheel.name))
    (wheels / "deps" / "requirements.lock").write_text(inputs.lock, encoding="utf-8")
    (wheels / "mlops").mkdir()
    for item in sorted(inputs.mlops_wheels.glob("mlops_gitops-*.whl")):
        _link_or_copy(str(item), str(wheels / "mlops" / item.name))
    return sorted(p.relative_to(ctx).as_posix() for p in ctx.rglob("*") if p.is_file())
