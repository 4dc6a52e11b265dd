"""Read Kubernetes objects (as JSON dicts) into the seam's value types; shared by both targets.

The local target keeps its Jobs and pods in the same JSON shape as the API server returns them, so
one reading of "is this Job done, and why did it fail" serves both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from mlops.adapters.cluster.base import INDEX_LABEL, JobPhase, JobStatus, PodInfo


def job_status(job: Mapping[str, Any]) -> JobStatus:
    """The phase of a batch/v1 Job from its ``status.conditions`` and counts (Complete / Failed are final)."""
    spec, status = job.get("spec") or {}, job.get("status") or {}
    base = JobStatus(phase="pending", completions=int(spec.get("completions") or 1),
                     active=int(status.get("active") or 0), succeeded=int(status.get("succeeded") or 0),
                     failed=int(status.get("failed") or 0))
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if c.get("status") == "True"}
    finals: tuple[tuple[str, JobPhase], ...] = (("Failed", "failed"), ("Complete", "succeeded"))
    for kind, phase in finals:
        if kind in conditions:
            cond = conditions[kind]
            return replace(base, phase=phase, reason=str(cond.get("reason") or ""),
                           message=str(cond.get("message") or ""))
    if spec.get("suspend"):
        return replace(base, reason="Suspended")
    return replace(base, phase="running") if base.active else base


def _index(meta: Mapping[str, Any]) -> int | None:
    for source in (meta.get("labels") or {}, meta.get("annotations") or {}):
        value = source.get(INDEX_LABEL)
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


def pod_info(pod: Mapping[str, Any]) -> PodInfo:
    """A pod's phase, index, and the waiting or terminated reason of its first container that has one."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    reason, exit_code = str(status.get("reason") or ""), None
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        if "terminated" in state:
            term = state["terminated"] or {}
            exit_code = term.get("exitCode")
            reason = reason or str(term.get("reason") or "")
            break
        waiting = (state.get("waiting") or {}).get("reason")
        if waiting and waiting != "ContainerCreating":
            reason = reason or str(waiting)
            break
    return PodInfo(name=str(meta.get("name", "")), phase=str(status.get("phase") or "Unknown"), index=_index(meta),
                   reason=reason, exit_code=int(exit_code) if exit_code is not None else None)


def sorted_pods(pods: list[Mapping[str, Any]]) -> list[PodInfo]:
    """Pods oldest first (then by name), as ``job_pods`` returns them."""
    def key(p: Mapping[str, Any]) -> tuple[str, str]:
        meta = p.get("metadata") or {}
        return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")

    return [pod_info(p) for p in sorted(pods, key=key)]
