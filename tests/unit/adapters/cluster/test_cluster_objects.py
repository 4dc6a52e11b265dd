"""Reading Jobs and pods, manifest hashes and the one-line failure reason."""

from __future__ import annotations

from typing import Any

import pytest

from mlops.adapters.cluster.base import (
    HASH_ANNOTATION,
    Applied,
    ClusterError,
    JobStatus,
    PodInfo,
    find_job,
    identity,
    manifest_hash,
    with_hash,
)
from mlops.adapters.cluster.follow import Outcome, describe_failure
from mlops.adapters.cluster.objects import job_status, pod_info, sorted_pods


def _job(status: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
            "spec": {"completions": 2, **spec}, "status": status}


def test_job_phases_from_conditions_and_counts() -> None:
    assert job_status(_job({})).phase == "pending"
    running = job_status(_job({"active": 2, "succeeded": 0}))
    assert (running.phase, running.active, running.finished) == ("running", 2, False)
    done = job_status(_job({"succeeded": 2, "conditions": [
        {"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}))
    assert (done.phase, done.succeeded, done.finished) == ("succeeded", 2, True)
    failed = job_status(_job({"failed": 3, "conditions": [
        {"type": "FailureTarget", "status": "True", "reason": "DeadlineExceeded"},
        {"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
         "message": "Job was active longer than specified deadline"}]}))
    assert (failed.phase, failed.reason, failed.failed) == ("failed", "DeadlineExceeded", 3)
    assert failed.message == "Job was active longer than specified deadline"
    # a condition that is not True does not count; FailureTarget alone means pods are still terminating
    assert job_status(_job({"active": 1, "conditions": [{"type": "Failed", "status": "False"}]})).phase == "running"
    assert job_status(_job({"active": 1, "conditions": [{"type": "FailureTarget", "status": "True"}]})).phase \
        == "running"
    suspended = job_status(_job({}, suspend=True))
    assert (suspended.phase, suspended.reason) == ("pending", "Suspended")


def test_status_summary() -> None:
    assert JobStatus("running", completions=2, active=2).summary() == "0/2 completed, 2 active"
    assert JobStatus("failed", completions=2, succeeded=1, failed=3).summary() == "1/2 completed, 3 failed"


def _pod(name: str, phase: str, state: dict[str, Any], index: str | None = "0", ts: str = "t1") -> dict[str, Any]:
    labels = {"batch.kubernetes.io/job-completion-index": index} if index is not None else {}
    return {"metadata": {"name": name, "labels": labels, "creationTimestamp": ts},
            "status": {"phase": phase, "containerStatuses": [{"name": "c", "state": state}]}}


def test_pod_reasons_and_indexes() -> None:
    pulling = pod_info(_pod("a", "Pending", {"waiting": {"reason": "ImagePullBackOff"}}))
    assert (pulling.reason, pulling.started, pulling.label) == ("ImagePullBackOff", False, "index 0")
    creating = pod_info(_pod("b", "Pending", {"waiting": {"reason": "ContainerCreating"}}))
    assert creating.reason == ""  # the normal start is not worth telling
    oom = pod_info(_pod("c", "Failed", {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}, index="3"))
    assert (oom.exit_code, oom.reason, oom.index, oom.started) == (137, "OOMKilled", 3, True)
    evicted = {"metadata": {"name": "d", "annotations": {"batch.kubernetes.io/job-completion-index": "2"}},
               "status": {"phase": "Failed", "reason": "Evicted"}}
    assert (pod_info(evicted).reason, pod_info(evicted).index) == ("Evicted", 2)
    plain = pod_info(_pod("e", "Running", {"running": {}}, index=None))
    assert (plain.index, plain.label) == (None, "e")
    ordered = sorted_pods([_pod("z", "Running", {}, ts="2"), _pod("y", "Running", {}, ts="1")])
    assert [p.name for p in ordered] == ["y", "z"]


def test_manifest_hash_ignores_status_and_its_own_annotation() -> None:
    job = _job({})
    annotated = with_hash(job)
    digest = annotated["metadata"]["annotations"][HASH_ANNOTATION]
    assert digest == manifest_hash(job) == manifest_hash(annotated)
    assert manifest_hash({**job, "status": {"active": 1}}) == digest
    assert "annotations" not in job["metadata"]  # the input is not changed
    changed = _job({}, parallelism=1)
    assert manifest_hash(changed) != digest


def test_identity_and_find_job() -> None:
    job = _job({})
    assert identity(job, "ns") == ("batch/v1", "Job", "ns", "j")
    assert identity({**job, "metadata": {"name": "j", "namespace": "other"}}, "ns")[2] == "other"
    with pytest.raises(ClusterError, match=r"lacks apiVersion, kind or metadata\.name"):
        identity({"kind": "Job", "metadata": {}}, "ns")
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
    assert find_job([service, job]) is job
    with pytest.raises(ClusterError, match=r"exactly one batch/v1 Job .* found 0"):
        find_job([service])
    with pytest.raises(ClusterError, match="found 2"):
        find_job([job, job])


def test_applied_prints_like_kubectl() -> None:
    assert str(Applied("Job", "x", "created")) == "job.batch/x created"
    assert str(Applied("Service", "x", "applied")) == "service/x applied"


def test_failure_reason_in_one_line() -> None:
    status = JobStatus("failed", completions=2, succeeded=1, failed=3, reason="BackoffLimitExceeded",
                       message="Job has reached the specified backoff limit")
    pods = [PodInfo("p1", "Failed", 1, "Error", 1), PodInfo("p2", "Failed", 1, "Error", 1),
            PodInfo("p3", "Failed", 0, "OOMKilled", 137)]
    line = describe_failure(Outcome(status, False, 3.0, pods))
    assert line == ("BackoffLimitExceeded: Job has reached the specified backoff limit — "
                    "index 1 exit code 1 (Error); index 0 exit code 137 (OOMKilled)")
    assert "\n" not in line
    assert describe_failure(Outcome(JobStatus("failed"), False, 1.0)) == "failed"
