"""``mlops build-image MODEL@VERSION``: the serving image of one recorded version.

1. load the repository (valid), the model's spec and the version record;
2. fetch the artifact (``--artifact DIR`` or the artifact store) and verify it against the record;
3. collect the wheelhouse (locked serving dependencies + the mlops wheel) and assemble a fresh build
   context with the Dockerfile from ``templates/Dockerfile.j2`` (:mod:`mlops.deploy.image_context`);
4. build it with an :class:`~mlops.adapters.image.ImageBuilder` as ``<registry>/<model>:<version>``;
   the build checks the artifact digest again inside the image;
5. push it when asked, and report the registry's manifest digest — what ``mlops render`` pins
   (``pins: {model: {version: V, image: sha256:…}}``; ``--pin ENV`` writes it).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mlops.adapters.artifacts import fetch_verified
from mlops.adapters.image import Built, ImageBuilder, ImageError
from mlops.adapters.scm import repository_url
from mlops.core.errors import UsageError
from mlops.core.lineage import verify_artifact
from mlops.core.repo import Repository
from mlops.core.spec.record import VersionRecord
from mlops.core.spec.runtime import prediction_sink, runtime_config, served_here, sink_requirements
from mlops.deploy import image_context, wheelhouse
from mlops.deploy.image_context import DEFAULT_BASE_IMAGE, ContextInputs, ImageSpec

DEFAULT_REGISTRY = "localhost:5000/mlops"
IMAGE_ENVIRONMENT = "image"  # the config baked into the image; Kubernetes mounts the environment's over it
_REGISTRY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(\.[a-z0-9]+([._-][a-z0-9]+)*)*(:[0-9]{1,5})?"
                       r"(/[a-z0-9]+([._-]|__|-+[a-z0-9]+)*[a-z0-9]*)*$")
Log = Callable[[str], None]


@dataclass
class BuildRequest:
    ref: str  # MODEL@VERSION
    root: Path
    base_image: str = DEFAULT_BASE_IMAGE
    registry: str | None = None
    push: bool = False
    wheelhouse: Path | None = None
    find_links: Sequence[str] = ()
    artifact: Path | None = None
    source: str | None = None
    pin: str | None = None


@dataclass
class ImageResult:
    model: str
    version: str
    tag: str
    artifact_digest: str
    base_image: str
    image_id: str | None = None
    digest: str | None = None  # the registry's manifest digest (after --push)
    reference: str | None = None  # <repository>@<digest>: what to pull and run
    pinned: str | None = None  # environments/<env>.yaml written by --pin
    context: str | None = None  # where --context-only wrote the build context
    context_files: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("context_files")
        return json.dumps(data, indent=2)


def registry_for(request: BuildRequest, repo: Repository) -> str:
    registry = request.registry
    if registry is None and request.pin:
        registry = repo.environment(request.pin).registry if request.pin in repo.environments else None
    registry = (registry or DEFAULT_REGISTRY).rstrip("/")
    if not _REGISTRY.match(registry):
        raise UsageError(f"--registry {registry!r} is not HOST[:PORT]/PATH in lower case (e.g. ghcr.io/org/models)")
    return registry


def fetch_artifact(request: BuildRequest, record: VersionRecord, where: str) -> Path:
    """The artifact directory of ``record``, verified (every file and the digest) before it is used.

    ``--artifact DIR`` wins; else the record's location, through its store (see :func:`store_for`).
    """
    if request.artifact is None:
        return fetch_verified(request.root, record)
    verify_artifact(request.artifact, record.artifact.digest, record.artifact.files, where=where)
    return request.artifact


def build_image(request: BuildRequest, builder: ImageBuilder, repo: Repository, log: Log = print) -> ImageResult:
    loaded = repo.require_record(request.ref)
    record, rel = loaded.spec, loaded.doc.path
    model, version, record_file = record.model, record.version, repo.root / rel
    if request.pin is not None:
        repo.require_environment(request.pin)
    if request.pin is not None and not request.push:
        raise UsageError("--pin needs --push: only a pushed image has the registry digest that render pins")
    registry = registry_for(request, repo)
    reason = builder.unavailable()
    if reason:
        raise ImageError(reason)
    artifact = fetch_artifact(request, record, rel)
    log(f"artifact {record.artifact.digest} verified against {rel}")
    spec = ImageSpec(model=model, version=version, digest=record.artifact.digest, base_image=request.base_image,
                     labels=image_context.oci_labels(record, repository_url(request.root, request.source)))
    serving = runtime_config(repo.model(model), version, IMAGE_ENVIRONMENT, record.artifact.digest)
    tag = f"{registry}/{model}:{version}"
    extra = image_sink_requirements(repo, model)
    with tempfile.TemporaryDirectory(prefix="mlops-image-") as tmp:
        deps, lock, mlops_wheels = _wheelhouse(request, extra, Path(tmp), log)
        inputs = ContextInputs(artifact=artifact, record=record, record_bytes=record_file.read_bytes(),
                               serving_json=json.dumps(serving, indent=2, sort_keys=True) + "\n",
                               deps=deps, lock=lock, mlops_wheels=mlops_wheels)
        ctx = Path(tmp) / "context"
        files = image_context.assemble(ctx, spec, inputs)
        log(f"building {tag} from {request.base_image} ({len(files)} files in the context)")
        built = builder.build(ctx, tag, log)
    result = ImageResult(model=model, version=version, tag=tag, artifact_digest=record.artifact.digest,
                         base_image=request.base_image, image_id=built.image_id, context_files=files,
                         context=str(built.location) if built.location else None)
    if request.push:
        pushed = builder.push(built, log)
        result.digest = pushed.digest
        result.reference = f"{tag.rpartition(':')[0]}@{pushed.digest}"
        if request.pin is not None and pushed.digest is not None:
            from mlops.deploy.pin import pin_image

            result.pinned = pin_image(repo, request.pin, model, version, pushed.digest)
    return result


def image_sink_requirements(repo: Repository, model: str) -> list[str]:
    """What the image needs to write the prediction log wherever a cluster environment runs it (an image is
    built once per version and runs in every environment): pyarrow for Parquet, fsspec and the protocol's
    filesystem (s3fs, gcsfs, adlfs) for each URL sink."""
    spec = repo.model(model)
    fmt = spec.serving.prediction_log.format
    sinks = {spec.serving.prediction_log.sink}
    sinks |= {prediction_sink(spec, name, env.spec.monitoring) for name, env in repo.environments.items()
              if not served_here(env.spec)}
    return sorted({pkg for sink in sinks for pkg in sink_requirements(sink, fmt)})


def _wheelhouse(request: BuildRequest, extra: list[str], tmp: Path, log: Log) -> tuple[list[Path], str, Path]:
    """(dependency wheels, their lock, dir with the mlops wheel), from the given or the cached wheelhouse.

    The lock is this environment's (what was tested); the wheelhouse is topped up when it lacks it.
    """
    base = request.wheelhouse or default_wheelhouse()
    pins = wheelhouse.lock(wheelhouse.serving_requirements(extra))
    wheelhouse.build_deps(base / "deps", pins, find_links=request.find_links or _env_links(), log=log)
    deps = wheelhouse.select_wheels(base / "deps", pins)
    if wheelhouse.source_tree() is not None:  # the running code, rebuilt reproducibly (same bytes, cached layer)
        return deps, wheelhouse.lock_text(pins), wheelhouse.build_mlops_wheel(tmp / "mlops-wheel", log=log).parent
    return deps, wheelhouse.lock_text(pins), base / "mlops"


def default_wheelhouse() -> Path:
    cache = os.environ.get("MLOPS_CACHE") or str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                                                 / "mlops")
    return Path(cache) / "wheelhouse"


def _env_links() -> list[str]:
    return [d for d in os.environ.get("MLOPS_WHEEL_LINKS", "").split(":") if d]


__all__ = ["BuildRequest", "Built", "ImageResult", "build_image"]
