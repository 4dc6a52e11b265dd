"""The ImageBuilder seam: turn a build context (a directory with a Dockerfile) into a pushed image.

Two implementations:

- :class:`mlops.adapters.image.docker.DockerImageBuilder` — a Docker engine through the docker SDK
  (low-level API, build logs streamed line by line, push reporting the registry's manifest digest);
- :class:`mlops.adapters.image.context.ContextExporter` — writes the self-contained build context to a
  directory, for builders that are not a Docker engine (kaniko, buildah, ``docker buildx`` in CI).

``docker`` is imported only by the Docker implementation, when it is used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mlops.core.errors import Problem, UserError

Log = Callable[[str], None]


class ImageError(UserError):
    """The builder could not build or push; ``tail`` holds the last lines of its log (printed before the error)."""

    def __init__(self, message: str, tail: list[str] | None = None, where: str = "docker") -> None:
        self.tail = list(tail or [])
        self.message = message
        super().__init__(Problem(where, 1, 1, message), context=[f"  | {line}" for line in self.tail])

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Built:
    tag: str
    image_id: str | None = None  # the engine's image id (its config digest), when an engine built it
    digest: str | None = None  # the registry's manifest digest, once pushed
    location: Path | None = None  # where an exported context was written


class ImageBuilder(Protocol):
    """Builds a context into an image tagged ``tag`` and pushes it to the tag's registry."""

    name: str

    def unavailable(self) -> str | None:
        """Why this builder cannot work here (``None`` when it can)."""

    def build(self, context: Path, tag: str, log: Log) -> Built:
        """Build ``context`` (it holds ``Dockerfile``) as ``tag``; raise :class:`ImageError` on failure."""

    def push(self, built: Built, log: Log) -> Built:
        """Push ``built.tag`` and return it with the registry's manifest digest."""

    def close(self) -> None:
        """Release connections (the builder is not used afterwards)."""


def open_builder(context_dir: Path | None = None) -> ImageBuilder:
    """The Docker engine's builder, or (``context_dir``) the exporter that writes the build context there."""
    if context_dir is not None:
        from mlops.adapters.image.context import ContextExporter

        return ContextExporter(context_dir)
    from mlops.adapters.image.docker import DockerImageBuilder

    return DockerImageBuilder()
