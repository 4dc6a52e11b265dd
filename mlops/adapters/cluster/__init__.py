"""The ClusterTarget seam: where a training Job runs.

``kubernetes`` talks to a real API server with the official client (kubeconfig like kubectl, or in-cluster);
``local`` runs the same Job's pods as processes on this machine. ``open_target`` picks one; the client
library is imported only when the ``kubernetes`` target is opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from mlops.adapters.cluster.base import (
    Applied,
    ClusterError,
    ClusterTarget,
    JobStatus,
    Manifest,
    PodInfo,
    find_job,
    manifest_hash,
)
from mlops.adapters.cluster.follow import Outcome, describe_failure, follow_job

TargetKind = Literal["kubernetes", "local"]
TARGETS: tuple[TargetKind, ...] = ("kubernetes", "local")

__all__ = ["TARGETS", "Applied", "ClusterError", "ClusterTarget", "JobStatus", "Manifest", "Outcome", "PodInfo",
           "TargetKind", "describe_failure", "find_job", "follow_job", "manifest_hash", "open_target"]


def open_target(kind: str, *, workdir: Path, context: str | None = None) -> ClusterTarget:
    """The ``kind`` target: ``kubernetes`` (kubeconfig ``context``, default the current one) or ``local``."""
    if kind == "kubernetes":
        from mlops.adapters.cluster.kube import KubernetesTarget

        return KubernetesTarget.from_kubeconfig(context=context)
    if kind == "local":
        from mlops.adapters.cluster.local import LocalTarget

        return LocalTarget(workdir)
    raise ClusterError(f"unknown cluster target {kind!r}; expected one of: {', '.join(TARGETS)}")
