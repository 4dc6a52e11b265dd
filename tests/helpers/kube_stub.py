"""A stand-in for kube-apiserver, for tests only: no API server can be installed on these machines.

It is NOT Kubernetes. It speaks the real REST paths, verbs, content types and Status objects that the
official ``kubernetes`` Python client uses for what the cluster adapter needs, and it simulates a Job
controller and kubelet just enough: an Indexed Job gets one pod per index (labels, annotations and
owner references as the real controller sets them), pods go Pending → Running → Succeeded/Failed, print
log lines, and failed indexes are retried until ``backoffLimit``. What a test wants to happen to a Job is
a ``Script``. Every request is recorded for assertions. The same flow runs against a real cluster in
``test_cluster_real.py`` (marked ``needs_cluster``). The HTTP side (routes, content types, Status
errors) is in ``kube_stub_http.py``; the store and the simulated controller and kubelet are here.

Served (``{ns}`` any namespace; ``{plural}`` of jobs, services, configmaps, serviceaccounts):
  GET /version
  POST, GET (list, ``labelSelector``) /apis/batch/v1/namespaces/{ns}/jobs, /api/v1/namespaces/{ns}/{plural}
  GET, PUT, PATCH (apply-patch+yaml needs ``fieldManager``; merge-patch+json), DELETE (``propagationPolicy``)
      on .../{plural}/{name}; GET .../jobs/{name}/status
  GET /api/v1/namespaces/{ns}/pods?labelSelector=..., GET/DELETE .../pods/{name}
  GET /api/v1/namespaces/{ns}/pods/{name}/log[?follow=true][&tailLines=N] (text/plain, chunked)
Errors are ``kind: Status`` bodies with the real reasons (NotFound 404, AlreadyExists 409, Invalid 422,
BadRequest 400, Unauthorized 401, UnsupportedMediaType 415). A Job deleted without a propagation policy
orphans its pods, as batch/v1 does.
"""

from __future__ import annotations

import copy
import itertools
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.helpers.kube_stub_http import KINDS, ApiError, Recorded, make_server

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
TERMINAL = ("Succeeded", "Failed")


@dataclass
class Script:
    """What happens to a Job's pods: the lines each prints, which indexes exit 1, or whether they hang."""

    lines: list[str] = field(default_factory=lambda: ["rank {index} starting", "epoch 1 loss 0.5",
                                                      "rank {index} done"])
    fail_indexes: frozenset[int] = frozenset()
    hang: bool = False
    waiting_reason: str | None = None  # pods stay Pending with this reason (e.g. ImagePullBackOff)
    line_delay_s: float = 0.01
    cut_log_after: int | None = None  # the first follow stream of each pod is closed after this many lines
    last_lines: list[str] = field(default_factory=list)  # printed at once after ``lines`` (a hand-back block)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ranges(indexes: list[int]) -> str:
    """``status.completedIndexes`` as the Job controller writes it: ``0-2,5``."""
    runs: list[list[int]] = []
    for i in indexes:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ",".join(f"{a}-{b}" if b > a else str(a) for a, b in runs)


def _selector_matches(selector: str, labels: dict[str, str]) -> bool:
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value.lstrip("="):
            return False
    return True


class KubeStub:
    """The stand-in API server. Use as a context manager; ``url`` is its address."""

    def __init__(self, *, token: str | None = None, pod_start_s: float = 0.05) -> None:
        self.token = token
        self.kinds: dict[tuple[str, str], str] = dict(KINDS)  # (apiVersion, plural) → kind this stub serves
        self.pod_start_s = pod_start_s
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # (plural, ns, name) → object
        self.logs: dict[str, list[str]] = {}  # pod uid → lines so far
        self.cut: set[str] = set()  # pod uids whose first log stream was cut (Script.cut_log_after)
        self.scripts: dict[str, Script] = {}  # job name → script
        self.requests: list[Recorded] = []
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.stopping = threading.Event()
        self._rv = itertools.count(1)
        self._server = make_server(self)
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> KubeStub:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        with self.changed:
            self.changed.notify_all()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    # --- the store -------------------------------------------------------------------------------
    def get(self, plural: str, ns: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            obj = self.objects.get((plural, ns, name))
            return copy.deepcopy(obj) if obj else None

    def list(self, plural: str, ns: str, selector: str = "") -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(o) for (p, n, _), o in sorted(self.objects.items())
                    if p == plural and n == ns and _selector_matches(selector, o["metadata"].get("labels", {}))]

    def _store(self, plural: str, ns: str, obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"]["resourceVersion"] = str(next(self._rv))
        with self.changed:
            self.objects[(plural, ns, obj["metadata"]["name"])] = obj
            self.changed.notify_all()
        return copy.deepcopy(obj)

    def create(self, plural: str, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        _validate(self.kinds, plural, ns, body)
        name = body["metadata"]["name"]
        with self.lock:
            if (plural, ns, name) in self.objects:
                resource = "jobs.batch" if plural == "jobs" else plural
                raise ApiError(409, "AlreadyExists", f'{resource} "{name}" already exists')
            obj = copy.deepcopy(body)
            meta = obj["metadata"]
            meta.update(namespace=ns, uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1)
            if plural == "services" and "clusterIP" not in obj.get("spec", {}):
                obj.setdefault("spec", {})["clusterIP"] = f"10.96.0.{len(self.objects) % 250 + 2}"
            if plural == "jobs":
                self._default_job(obj)
            stored = self._store(plural, ns, obj)
        if plural == "jobs":
            self._spawn(self._run_job, ns, name, stored["metadata"]["uid"])
        return stored

    def update(self, plural: str, ns: str, name: str, new: dict[str, Any]) -> dict[str, Any]:
        _validate(self.kinds, plural, ns, new, name)
        with self.lock:
            old = self.objects.get((plural, ns, name))
            if old is None:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            rv = new.get("metadata", {}).get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {plural} "{name}": the object '
                               "has been modified; please apply your changes to the latest version and try again")
            if plural == "jobs" and new["spec"].get("template") != old["spec"].get("template"):
                raise ApiError(422, "Invalid", f'Job.batch "{name}" is invalid: spec.template: Invalid value: '
                               "field is immutable")
            obj = copy.deepcopy(new)
            obj["metadata"] = {**old["metadata"], **{k: v for k, v in obj["metadata"].items()
                                                     if k in ("labels", "annotations")}}
            obj["status"] = old.get("status", {})
            return self._store(plural, ns, obj)

    def delete(self, plural: str, ns: str, name: str, policy: str | None) -> dict[str, Any]:
        with self.changed:
            obj = self.objects.pop((plural, ns, name), None)
            if obj is None:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            if plural == "jobs":
                uid = obj["metadata"]["uid"]
                for key, pod in list(self.objects.items()):
                    owners = pod["metadata"].get("ownerReferences", [])
                    if key[0] == "pods" and any(o["uid"] == uid for o in owners):
                        if policy in ("Background", "Foreground"):
                            del self.objects[key]
                        else:  # batch/v1's default for Jobs is to orphan the pods
                            pod["metadata"]["ownerReferences"] = []
            self.changed.notify_all()
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "group": "batch" if plural == "jobs" else "", "kind": plural,
                            "uid": obj["metadata"]["uid"]}}

    # --- the simulated controller and kubelet ------------------------------------------------
    def _spawn(self, fn: Any, *args: Any) -> None:
        thread = threading.Thread(target=fn, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _default_job(self, job: dict[str, Any]) -> None:
        spec, uid = job["spec"], job["metadata"]["uid"]
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", spec["completions"])
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        labels = spec["template"].setdefault("metadata", {}).setdefault("labels", {})
        labels.update({"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid,
                       "batch.kubernetes.io/job-name": job["metadata"]["name"], "job-name": job["metadata"]["name"]})
        job["status"] = {}

    def _job_alive(self, ns: str, name: str, uid: str) -> dict[str, Any] | None:
        job = self.get("jobs", ns, name)
        return job if job and job["metadata"]["uid"] == uid and not self.stopping.is_set() else None

    def _set_status(self, ns: str, name: str, uid: str, **status: Any) -> None:
        with self.lock:
            job = self.objects.get(("jobs", ns, name))
            if job and job["metadata"]["uid"] == uid:
                job["status"] = {**job.get("status", {}), **status}
                self._store("jobs", ns, job)

    def _run_job(self, ns: str, name: str, uid: str) -> None:
        job = self._job_alive(ns, name, uid)
        if job is None:
            return
        script = self.scripts.get(name, Script())
        indexes = list(range(job["spec"]["completions"]))
        self._set_status(ns, name, uid, startTime=_now(), active=len(indexes), ready=0)
        failures, succeeded = 0, set()
        pending = list(indexes)
        while pending:
            results: dict[int, bool] = {}

            def run(index: int, pod: dict[str, Any], results: dict[int, bool] = results) -> None:
                results[index] = self._run_pod(ns, pod, index, script, name, uid)

            threads = [threading.Thread(target=run, args=(i, self._make_pod(job, i)), daemon=True) for i in pending]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if self._job_alive(ns, name, uid) is None:
                return
            failed_now = [i for i in pending if not results.get(i)]
            succeeded |= {i for i in pending if results.get(i)}
            failures += len(failed_now)
            self._set_status(ns, name, uid, succeeded=len(succeeded), failed=failures,
                             completedIndexes=_ranges(sorted(succeeded)) or None)
            if failures > job["spec"]["backoffLimit"]:
                self._set_status(ns, name, uid, active=0, ready=0, conditions=[
                    {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded",
                     "message": "Job has reached the specified backoff limit"},
                    {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                     "message": "Job has reached the specified backoff limit", "lastTransitionTime": _now()}])
                return
            pending = failed_now
        self._set_status(ns, name, uid, active=0, ready=0, completionTime=_now(), conditions=[
            {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached"},
            {"type": "Complete", "status": "True", "reason": "CompletionsReached", "lastTransitionTime": _now()}])

    def _make_pod(self, job: dict[str, Any], index: int) -> dict[str, Any]:
        template = copy.deepcopy(job["spec"]["template"])
        meta = template.get("metadata", {})
        meta["labels"] = {**meta.get("labels", {}), "batch.kubernetes.io/job-completion-index": str(index)}
        meta["annotations"] = {**meta.get("annotations", {}), "batch.kubernetes.io/job-completion-index": str(index)}
        name = f"{job['metadata']['name']}-{index}-{uuid.uuid4().hex[:5]}"
        meta.update(name=name, namespace=job["metadata"]["namespace"], uid=str(uuid.uuid4()),
                    creationTimestamp=_now(), ownerReferences=[{
                        "apiVersion": "batch/v1", "kind": "Job", "name": job["metadata"]["name"],
                        "uid": job["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}])
        container = template["spec"]["containers"][0]["name"]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"],
               "status": {"phase": "Pending", "containerStatuses": [
                   {"name": container, "ready": False, "restartCount": 0, "image": "stub", "imageID": "",
                    "state": {"waiting": {"reason": "ContainerCreating"}}}]}}
        self.logs[meta["uid"]] = []
        return self._store("pods", meta["namespace"], pod)

    def _pod_state(self, pod: dict[str, Any], phase: str, state: dict[str, Any]) -> bool:
        with self.lock:
            current = self.objects.get(("pods", pod["metadata"]["namespace"], pod["metadata"]["name"]))
            if current is None or current["metadata"]["uid"] != pod["metadata"]["uid"]:
                return False
            current["status"]["phase"] = phase
            current["status"]["containerStatuses"][0]["state"] = state
            self._store("pods", pod["metadata"]["namespace"], current)
            return True

    def _run_pod(self, ns: str, pod: dict[str, Any], index: int, script: Script, job: str, uid: str) -> bool:
        time.sleep(self.pod_start_s)
        if script.waiting_reason:
            self._pod_state(pod, "Pending", {"waiting": {"reason": script.waiting_reason}})
            return self._hang(ns, job, uid)
        if not self._pod_state(pod, "Running", {"running": {"startedAt": _now()}}):
            return False
        for line in script.lines:
            time.sleep(script.line_delay_s)
            with self.changed:
                self.logs[pod["metadata"]["uid"]].append(line.format(index=index))
                self.changed.notify_all()
        with self.changed:
            self.logs[pod["metadata"]["uid"]].extend(script.last_lines)
            self.changed.notify_all()
        if script.hang:
            return self._hang(ns, job, uid)
        ok = index not in script.fail_indexes
        self._pod_state(pod, "Succeeded" if ok else "Failed", {"terminated": {
            "exitCode": 0 if ok else 1, "reason": "Completed" if ok else "Error", "finishedAt": _now()}})
        return ok

    def _hang(self, ns: str, job: str, uid: str) -> bool:
        with self.changed:
            while self._job_alive(ns, job, uid) is not None:
                self.changed.wait(0.5)
        return False

    def follow_log(self, ns: str, name: str, follow: bool, tail: int | None = None) -> Iterator[str]:
        pod = self.get("pods", ns, name)
        if pod is None:
            raise ApiError(404, "NotFound", f'pods "{name}" not found')
        if pod["status"]["phase"] == "Pending":
            container = pod["spec"]["containers"][0]["name"]
            raise ApiError(400, "BadRequest", f'container "{container}" in pod "{name}" is waiting to start: '
                           "ContainerCreating")
        uid = pod["metadata"]["uid"]
        with self.lock:
            sent = max(len(self.logs.get(uid, [])) - tail, 0) if tail is not None else 0
            job = pod["metadata"]["ownerReferences"][0]["name"] if pod["metadata"].get("ownerReferences") else ""
            cut_after = self.scripts.get(job, Script()).cut_log_after if follow and uid not in self.cut else None
        while True:
            if cut_after is not None and sent >= cut_after:
                self.cut.add(uid)
                return
            with self.changed:
                lines = self.logs.get(uid, [])[sent:]
                if cut_after is not None:
                    lines = lines[: cut_after - sent]
                current = self.objects.get(("pods", ns, name))
                done = current is None or current["status"]["phase"] in TERMINAL or self.stopping.is_set()
                if not lines and follow and not done:
                    self.changed.wait(0.5)
                    continue
            yield from lines
            sent += len(lines)
            if not follow or (done and not lines):
                return


def write_kubeconfig(path: Path, server: str, token: str = "s3cr3t-token-0123456789abcdef",
                     namespace: str = "team") -> Path:
    """A kubeconfig for the stub: bearer token, no TLS."""
    path.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: stub, cluster: {{server: "{server}"}}}}]
users: [{{name: ci, user: {{token: "{token}"}}}}]
contexts: [{{name: stub, context: {{cluster: stub, user: ci, namespace: {namespace}}}}}]
current-context: stub
""")
    return path


def _validate(kinds: dict[tuple[str, str], str], plural: str, ns: str, body: Any, name: str | None = None) -> None:
    """The cheap checks the real API server would fail with 400/422 (not the whole OpenAPI schema)."""
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
    api_version, kind = next((v, k) for (v, p), k in kinds.items() if p == plural)
    if body.get("apiVersion") != api_version or body.get("kind") != kind:
        raise ApiError(400, "BadRequest", f"the API version in the data ({body.get('apiVersion')}) or kind "
                       f"({body.get('kind')}) does not match the expected {api_version} {kind}")
    meta = body.get("metadata") or {}
    obj_name = meta.get("name", "")
    if not obj_name or len(obj_name) > 63 or not DNS_LABEL.match(obj_name):
        raise ApiError(422, "Invalid", f"{kind} \"{obj_name}\" is invalid: metadata.name: Invalid value")
    if name is not None and obj_name != name:
        raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
    if meta.get("namespace", ns) != ns:
        raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                       "sent on the request")
    if kind == "Job":
        spec = body.get("spec") or {}
        pod = (spec.get("template") or {}).get("spec") or {}
        containers = pod.get("containers") or []
        if not containers or not all(c.get("name") and c.get("image") for c in containers):
            raise ApiError(422, "Invalid", f'Job.batch "{obj_name}" is invalid: spec.template.spec.containers: '
                           "Required value")
        if pod.get("restartPolicy") not in ("Never", "OnFailure"):
            raise ApiError(422, "Invalid", f'Job.batch "{obj_name}" is invalid: spec.template.spec.restartPolicy: '
                           'Required value: valid values: "OnFailure", "Never"')
        if spec.get("completionMode") == "Indexed" and not spec.get("completions"):
            raise ApiError(422, "Invalid", f'Job.batch "{obj_name}" is invalid: spec.completions: Required value: '
                           "when completion mode is Indexed")


