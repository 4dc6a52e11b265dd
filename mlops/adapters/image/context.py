"""ImageBuilder that writes the build context to a directory instead of building it.

The context is self-contained (Dockerfile, wheelhouse, artifact, record, serving config), so any OCI
builder can build it with no network: ``docker build DIR``, ``kaniko --context dir://DIR``,
``buildah bud DIR``. Pushing is left to that builder, which reports the digest.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mlops.adapters.image import Built, ImageError, Log


class ContextExporter:
    name = "context"

    def __init__(self, out: Path) -> None:
        self.out = out

    def unavailable(self) -> str | None:
        if self.out.exists() and not self.out.is_dir():
            return f"{self.out} exists and is not a directory"
        return None

    def build(self, context: Path, tag: str, log: Log) -> Built:
        reason = self.unavailable()
        if reason:
            raise ImageError(reason)
        staging = self.out.with_name(f".{self.out.name}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(context, staging)
        if self.out.exists():
            shutil.rmtree(self.out)
        staging.replace(self.out)
        log(f"wrote the build context of {tag} to {self.out} (build it with: docker build -t {tag} {self.out})")
        return Built(tag=tag, location=self.out)

    def push(self, built: Built, log: Log) -> Built:
        raise ImageError(f"the context exporter builds nothing to push; build and push {built.location} "
                         f"with an OCI builder as {built.tag}")

    def close(self) -> None:
        pass
