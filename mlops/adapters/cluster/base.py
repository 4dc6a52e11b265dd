"""The ClusterTarget seam: what training asks of a cluster, as a small Protocol and its value types.

A target applies manifests (a batch/v1 Job and what it needs, such as a headless Service), reports the
Job's status and its pods, streams a pod's log and deletes what it applied. ``follow.follow_job`` builds
the "submit and watch until done" loop on these few calls, the same for every implementation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from mlops.core.errors import Problem, UserError

JobPhase = Literal["pending", "running", "succeeded", "failed"]
Action = Literal["created", "applied", "unchanged", "replaced"]
Manifest = Mapping[str, Any]
HASH_ANNOTATION = "mlops.dev/manifest-sha256"
INDEX_LABEL = "batch.kubernetes.io/job-completion-index"


class ClusterError(UserError):
    """The cluster refused or failed a request, or cannot be reached; the message says which and why."""

    def __init__(self, message: str, *, source: str = "kubernetes") -> None:
        super().__init__(Problem(source, 1, 1, message))
        self.message = message


@dataclass(frozen=True)
class Applied:
    """What ``apply`` did to one object, printed like kubectl does: ``job.batch/x created``."""

    kind: str
    name: str
    action: Action

    def __str__(self) -> str:
        group = ".batch" if self.kind == "Job" else ""
        return f"{self.kind.lower()}{group}/{self.name} {self.action}"


@dataclass(frozen=True)
class JobStatus:
    """A Job's progress: counts of pods and, once it has finished, the condition's reason and message."""

    phase: JobPhase
    completions: int = 1
    active: int = 0
    succeeded: int = 0
    failed: int = 0
    reason: str = ""
    message: str = ""

    @property
    def finished(self) -> bool:
        return self.phase in ("succeeded", "failed")

    def summary(self) -> str:
        parts = [f"{self.succeeded}/{self.completions} completed"]
        if self.active or not self.finished:
            parts.append(f"{self.active} active")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return ", ".join(parts)


@dataclass(frozen=True)
class PodInfo:
    """One pod of a Job: its completion index, phase and, when it waits or ended, why."""

    name: str
    phase: str  # Pending | Running | Succeeded | Failed | Unknown, as Kubernetes spells them
    index: int | None = None
    reason: str = ""  # a waiting reason (ImagePullBackOff) or a terminated one (Error, OOMKilled)
    exit_code: int | None = None

    @property
    def started(self) -> bool:
        """Whether the pod has a log to read (it runs or ran)."""
        return self.phase in ("Running", "Succeeded", "Failed")

    @property
    def label(self) -> str:
        return f"index {self.index}" if self.index is not None else self.name


class ClusterTarget(Protocol):
    """Where a training Job runs. Implementations: ``kubernetes`` (the official client), ``local`` (processes)."""

    default_namespace: str

    def apply(self, manifests: Sequence[Manifest]) -> list[Applied]:
        """Create or update each object; a Job that already exists with this exact manifest is left running."""
        ...

    def job_status(self, namespace: str, name: str) -> JobStatus: ...

    def job_pods(self, namespace: str, name: str) -> list[PodInfo]:
        """The Job's pods, oldest first (a retried index has several)."""
        ...

    def pod_log(self, namespace: str, pod: str, *, follow: bool, new_only: bool = False) -> Iterator[str]:
        """The pod's log lines, without line ends; with ``follow`` it ends when the container ends.

        ``new_only`` skips what was written before the call (to resume a stream that a proxy cut).
        """
        ...

    def delete(self, manifests: Sequence[Manifest]) -> list[str]:
        """Delete each object and its dependents (a Job's pods); missing objects are not an error."""
        ...

    def close(self) -> None: ...


def manifest_hash(manifest: Manifest) -> str:
    """sha256 of the manifest without its status and without the annotation that carries this hash."""
    body = {k: v for k, v in manifest.items() if k != "status"}
    meta = dict(body.get("metadata") or {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != HASH_ANNOTATION}
    meta["annotations"] = annotations
    body["metadata"] = meta
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def with_hash(manifest: Manifest) -> dict[str, Any]:
    """A copy of ``manifest`` annotated with its hash, so a re-apply can tell "same Job" from "changed Job"."""
    out = json.loads(json.dumps(manifest))
    out.setdefault("metadata", {}).setdefault("annotations", {})[HASH_ANNOTATION] = manifest_hash(manifest)
    return out


def identity(manifest: Manifest, default_namespace: str) -> tuple[str, str, str, str]:
    """``(apiVersion, kind, namespace, name)`` of a manifest, with a clear error when one is missing."""
    meta = manifest.get("metadata") or {}
    api_version, kind, name = manifest.get("apiVersion"), manifest.get("kind"), meta.get("name")
    if not (isinstance(api_version, str) and isinstance(kind, str) and isinstance(name, str) and name):
        raise ClusterError(f"a manifest lacks apiVersion, kind or metadata.name: {str(dict(manifest))[:120]}")
    return api_version, kind, str(meta.get("namespace") or default_namespace), name


def find_job(manifests: Sequence[Manifest]) -> Manifest:
    """The one batch/v1 Job among ``manifests``."""
    jobs = [m for m in manifests if m.get("kind") == "Job" and m.get("apiVersion") == "batch/v1"]
    if len(jobs) != 1:
        raise ClusterError(f"expected exactly one batch/v1 Job among the training manifests, found {len(jobs)}")
    return jobs[0]
