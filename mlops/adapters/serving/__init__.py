"""The ServingTarget seam: where an environment's pinned versions run, and how a new one replaces the old.

* :mod:`mlops.adapters.serving.kube` — push mode on Kubernetes: server-side apply (field manager ``mlops``),
  prune of what this environment no longer renders (by label, nothing else), wait for the rollout, smoke test
  through the API server's service proxy;
* :mod:`mlops.adapters.serving.local` — local mode: each pinned model behind a stable local port, served by
  ``mlops serve`` processes; a switch starts the new version, waits until it is ready, moves traffic, then drains
  the old one, so no request fails. State lives under ``.mlops/serving/`` and survives the command.

Pull mode has no target: Argo CD or Flux applies the committed manifests (``mlops render``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from mlops.core.errors import Problem, UserError

Mode = Literal["local", "push"]


class ServingError(UserError):
    """A deployment failed (not ready in time, a rollout that did not progress, a refused smoke test)."""

    def __init__(self, message: str, *, where: str = "deploy") -> None:
        super().__init__(Problem(where, 1, 1, message))
        self.message = message


@dataclass(frozen=True)
class Release:
    """One model's version in one environment, as it should run."""

    environment: str
    model: str
    version: str
    digest: str
    namespace: str = ""  # push: the Kubernetes namespace
    manifests: Sequence[Mapping[str, Any]] = ()  # push: what `mlops render` produced for this model
    port: int = 0  # local: the stable port clients use
    record: Path | None = None  # local: the version record (serve verifies the artifact against it)


@dataclass(frozen=True)
class Serving:
    """What runs for one model now."""

    model: str
    version: str | None
    url: str = ""  # local: http://127.0.0.1:PORT; push: the service proxy path
    detail: str = ""


@dataclass(frozen=True)
class Outcome:
    """The result of bringing one release up: what changed and how long it took."""

    release: Release
    changed: bool
    previous: str | None
    seconds: float
    steps: list[str] = field(default_factory=list)


class ServingTarget(Protocol):
    """Runs releases. Implementations: Kubernetes (push) and local processes."""

    def deploy(self, release: Release, *, timeout_s: float) -> Outcome:
        """Bring ``release`` up and wait until it serves; a failure is a :class:`ServingError`."""
        ...

    def infer(self, release: Release, body: Mapping[str, Any], *, timeout_s: float = 30.0) -> tuple[int, Any]:
        """One Open Inference Protocol request to the release, the way clients reach it (status, JSON)."""
        ...

    def ready(self, release: Release) -> bool: ...

    def current(self, environment: str, model: str) -> Serving: ...

    def prune(self, environment: str, keep: Sequence[str], namespace: str = "") -> list[str]:
        """Remove what ``environment`` runs for models not in ``keep`` (push: every object carrying the
        environment's labels that this run did not apply); returns what was removed."""
        ...

    def close(self) -> None: ...


def open_serving(mode: Mode, *, root: Path, context: str | None = None) -> ServingTarget:
    """The target for a delivery ``mode``: ``push`` (the kubeconfig's cluster) or ``local`` (processes here)."""
    if mode == "push":
        from mlops.adapters.serving.kube import KubernetesServing

        return KubernetesServing.from_kubeconfig(context=context)
    from mlops.adapters.serving.local import LocalServing

    return LocalServing(root)
