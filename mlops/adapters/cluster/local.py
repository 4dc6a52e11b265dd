"""The ``local`` ClusterTarget: a batch/v1 Job's pods run as processes on this machine.

So a laptop runs the very Job a cluster would: one process per completion index (``parallelism`` at a time),
with the container's command, args and environment resolved as the kubelet does (see ``podenv``), in the
repository as working directory. The Job controller's rules that matter for training are kept: a failed
index is retried until ``backoffLimit`` failures (then the Job fails with ``BackoffLimitExceeded`` and the
other pods are stopped), ``activeDeadlineSeconds`` fails it with ``DeadlineExceeded``, and the Job succeeds
when every index has. Each pod's output goes to ``.mlops/cluster/<namespace>/<job>/<pod>.log``. Processes
belong to this command: ``close`` stops them. A pod's ``emptyDir`` volumes are directories beside its log
(``<pod>.volumes/<volume>``, see ``podenv``), removed when the pod ends. Images, other volumes, the
container's ``workingDir``, resources and node placement are not used.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.adapters.cluster import objects, podenv
from mlops.adapters.cluster.base import (
    HASH_ANNOTATION,
    INDEX_LABEL,
    Applied,
    ClusterError,
    JobStatus,
    Manifest,
    PodInfo,
    identity,
    with_hash,
)

TICK_S = 0.05


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _empty_dirs(pod_spec: Mapping[str, Any], container: Mapping[str, Any], under: Path) -> dict[str, str]:
    """mountPath → this pod's directory for each emptyDir the container mounts (not /tmp or /dev/shm)."""
    empty = {str(v.get("name")) for v in pod_spec.get("volumes") or [] if "emptyDir" in v}
    return {str(m["mountPath"]): str(under / str(m["name"])) for m in container.get("volumeMounts") or []
            if m.get("name") in empty and str(m.get("mountPath", "")).rstrip("/") not in podenv.NODE_PATHS}


@dataclass
class _Pod:
    name: str
    index: int
    log: Path
    proc: subprocess.Popen[bytes]
    created: str
    volumes: Path | None = None  # the pod's emptyDir volumes, removed once it has ended
    exit_code: int | None = None
    counted: bool = False  # whether the supervisor has counted its exit

    def poll(self) -> int | None:
        if self.exit_code is None:
            self.exit_code = self.proc.poll()
            if self.exit_code is not None and self.volumes is not None:
                shutil.rmtree(self.volumes, ignore_errors=True)
        return self.exit_code

    def as_object(self) -> dict[str, Any]:
        code = self.poll()
        state: dict[str, Any]
        if code is None:
            phase, state = "Running", {"running": {}}
        else:
            reason = "Completed" if code == 0 else (f"Signal {-code}" if code < 0 else "Error")
            phase, state = ("Succeeded" if code == 0 else "Failed"), {"terminated": {"exitCode": code,
                                                                                    "reason": reason}}
        return {"metadata": {"name": self.name, "creationTimestamp": self.created,
                             "labels": {INDEX_LABEL: str(self.index)}},
                "status": {"phase": phase, "containerStatuses": [{"state": state}]}}


@dataclass
class _Job:
    namespace: str
    manifest: dict[str, Any]
    workdir: Path
    log_dir: Path
    services: Mapping[str, list[int]]  # applied Services of the namespace → their ports
    configmaps: Mapping[str, Mapping[str, str]]
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    pods: list[_Pod] = field(default_factory=list)
    failures: int = 0
    conditions: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    ports: dict[int, int] = field(default_factory=dict)  # Service port → this Job's local port

    def __post_init__(self) -> None:
        self.ports = {port: _free_port() for ports in self.services.values() for port in ports}

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])

    @property
    def spec(self) -> dict[str, Any]:
        return self.manifest.get("spec") or {}

    def start(self) -> None:
        threading.Thread(target=self._supervise, name=f"job-{self.name}", daemon=True).start()

    def _spawn(self, index: int) -> _Pod:
        template = self.spec.get("template") or {}
        meta, pod_spec = template.get("metadata") or {}, template.get("spec") or {}
        name = f"{self.name}-{index}-{uuid.uuid4().hex[:5]}"
        indexed = self.spec.get("completionMode") == "Indexed"
        labels = {**(meta.get("labels") or {}), "job-name": self.name, "batch.kubernetes.io/job-name": self.name}
        annotations = dict(meta.get("annotations") or {})
        if indexed:
            labels[INDEX_LABEL] = annotations[INDEX_LABEL] = str(index)
        ctx = podenv.PodContext(name=name, namespace=self.namespace, uid=str(uuid.uuid4()),
                                index=index if indexed else None, labels=labels, annotations=annotations,
                                service_account=str(pod_spec.get("serviceAccountName") or "default"))
        containers = pod_spec.get("containers") or []
        if len(containers) != 1:
            raise ClusterError(f"job {self.name}: the local target runs pods with exactly one container, "
                               f"not {len(containers)}", source="local")
        services = list(self.services)
        volumes = self.log_dir / f"{name}.volumes"
        mounts = _empty_dirs(pod_spec, containers[0], volumes)
        env = podenv.container_env(containers[0], ctx, self.configmaps)
        env = {k: podenv.map_paths(podenv.localize(v, services, self.namespace), mounts)
               for k, v in env.items() if k not in podenv.NODE_OWNED}
        env.update(MASTER_ADDR=podenv.LOCALHOST, HOSTNAME=f"{self.name}-{index}" if indexed else name)
        port = env.get("MASTER_PORT", "")
        if port.isdigit() and int(port) in self.ports:
            env["MASTER_PORT"] = str(self.ports[int(port)])
        argv = [podenv.localize(a, services, self.namespace) for a in podenv.command_line(containers[0], env)]
        argv = [podenv.map_paths(a, mounts) for a in podenv.map_ports(argv, self.ports)]
        log = self.log_dir / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        for local in mounts.values():
            Path(local).mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, cwd=self.workdir, env={**os.environ, **env}, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return _Pod(name=name, index=index, log=log, proc=proc, created=created, volumes=volumes if mounts else None)

    def _fail(self, reason: str, message: str) -> None:
        self.conditions = [{"type": "Failed", "status": "True", "reason": reason, "message": message}]
        self._kill_all()

    def _supervise(self) -> None:
        completions = int(self.spec.get("completions") or 1)
        parallelism = int(self.spec.get("parallelism") or completions)
        backoff = int(self.spec.get("backoffLimit", 6))
        deadline = self.spec.get("activeDeadlineSeconds")
        started, pending, succeeded = time.monotonic(), list(range(completions)), set[int]()
        while not self.stop.is_set():
            with self.lock:
                running = [p for p in self.pods if p.poll() is None]
                for pod in self.pods:
                    if pod.exit_code is not None and not pod.counted:
                        pod.counted = True
                        if pod.exit_code == 0:
                            succeeded.add(pod.index)
                        else:
                            self.failures += 1
                            pending.append(pod.index)
                if self.failures > backoff:
                    return self._fail("BackoffLimitExceeded", "Job has reached the specified backoff limit")
                if deadline is not None and time.monotonic() - started > float(deadline):
                    return self._fail("DeadlineExceeded", "Job was active longer than specified deadline")
                if len(succeeded) == completions:
                    self.conditions = [{"type": "Complete", "status": "True", "reason": "CompletionsReached",
                                        "message": "Reached expected number of succeeded pods"}]
                    return None
                while pending and len(running) < parallelism:
                    try:
                        pod = self._spawn(pending.pop(0))
                    except (ClusterError, OSError) as exc:
                        message = exc.message if isinstance(exc, ClusterError) else f"cannot start the pod: {exc}"
                        return self._fail("PodStartFailed", message)
                    self.pods.append(pod)
                    running.append(pod)
            time.sleep(TICK_S)
        return None

    def as_object(self) -> dict[str, Any]:
        with self.lock:
            active = sum(1 for p in self.pods if p.poll() is None)
            succeeded = len({p.index for p in self.pods if p.exit_code == 0})
            return {"metadata": self.manifest["metadata"], "spec": self.spec,
                    "status": {"active": active, "succeeded": succeeded, "failed": self.failures,
                               "conditions": list(self.conditions)}}

    def _kill_all(self, grace_s: float = 5.0) -> None:
        live = [p for p in self.pods if p.poll() is None]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pod in live:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pod.proc.pid, sig)
            end = time.monotonic() + grace_s
            while time.monotonic() < end and any(p.poll() is None for p in live):
                time.sleep(TICK_S)
            live = [p for p in live if p.poll() is None]
            if not live:
                break

    def terminate(self) -> None:
        self.stop.set()
        with self.lock:
            self._kill_all()


class LocalTarget:
    """A ClusterTarget whose pods are local processes; see the module docstring."""

    def __init__(self, workdir: Path, *, state_dir: Path | None = None, default_namespace: str = "default") -> None:
        self.workdir = workdir.resolve()
        self.state_dir = state_dir or self.workdir / ".mlops" / "cluster"
        self.default_namespace = default_namespace
        self._jobs: dict[tuple[str, str], _Job] = {}
        self._services: dict[str, dict[str, list[int]]] = {}  # namespace → Service → ports
        self._configmaps: dict[str, dict[str, dict[str, str]]] = {}

    def apply(self, manifests: Sequence[Manifest]) -> list[Applied]:
        ordered = sorted(manifests, key=lambda m: m.get("kind") == "Job")  # a Job last: it needs the others
        return [self._apply_one(m) for m in ordered]

    def _apply_one(self, manifest: Manifest) -> Applied:
        api_version, kind, ns, name = identity(manifest, self.default_namespace)
        if (api_version, kind) == ("v1", "Service"):
            known = self._services.setdefault(ns, {})
            existed = name in known
            ports = ((manifest.get("spec") or {}).get("ports")) or []
            known[name] = [int(p["port"]) for p in ports if isinstance(p.get("port"), int)]
            return Applied(kind, name, "applied" if existed else "created")
        if (api_version, kind) == ("v1", "ConfigMap"):
            existed = name in self._configmaps.setdefault(ns, {})
            self._configmaps[ns][name] = {str(k): str(v) for k, v in (manifest.get("data") or {}).items()}
            return Applied(kind, name, "applied" if existed else "created")
        if (api_version, kind) == ("v1", "ServiceAccount"):
            return Applied(kind, name, "applied")
        if (api_version, kind) != ("batch/v1", "Job"):
            raise ClusterError(f"the local target runs batch/v1 Jobs (with Services and ConfigMaps), not {kind} "
                               f"({api_version}) {name}", source="local")
        body = with_hash(manifest)
        old = self._jobs.get((ns, name))
        if old is not None:
            same = old.manifest["metadata"]["annotations"][HASH_ANNOTATION] == \
                body["metadata"]["annotations"][HASH_ANNOTATION]
            if same and objects.job_status(old.as_object()).phase != "failed":
                return Applied(kind, name, "unchanged")
            old.terminate()
        job = _Job(namespace=ns, manifest=body, workdir=self.workdir, log_dir=self.state_dir / ns / name,
                   services=dict(self._services.get(ns, {})), configmaps=self._configmaps.get(ns, {}))
        self._jobs[(ns, name)] = job
        job.start()
        return Applied(kind, name, "replaced" if old is not None else "created")

    def _job(self, namespace: str, name: str) -> _Job:
        job = self._jobs.get((namespace, name))
        if job is None:
            raise ClusterError(f"read job {namespace}/{name}: 404 NotFound: jobs.batch {name!r} not found",
                               source="local")
        return job

    def job_status(self, namespace: str, name: str) -> JobStatus:
        return objects.job_status(self._job(namespace, name).as_object())

    def job_pods(self, namespace: str, name: str) -> list[PodInfo]:
        job = self._job(namespace, name)
        with job.lock:
            return objects.sorted_pods([p.as_object() for p in job.pods])

    def _pod(self, namespace: str, name: str) -> _Pod:
        for (ns, _), job in self._jobs.items():
            for pod in job.pods if ns == namespace else []:
                if pod.name == name:
                    return pod
        raise ClusterError(f"log of pod {namespace}/{name}: 404 NotFound: pods {name!r} not found", source="local")

    def pod_log(self, namespace: str, pod: str, *, follow: bool, new_only: bool = False) -> Iterator[str]:
        found = self._pod(namespace, pod)
        pending = b""
        with found.log.open("rb") as fh:
            if new_only:
                fh.seek(0, os.SEEK_END)
            while True:
                done = found.poll() is not None  # decided before reading, so nothing written after is lost
                chunk = fh.read(1 << 16)
                if chunk:
                    *lines, pending = (pending + chunk).split(b"\n")
                    yield from (line.decode("utf-8", "replace").rstrip("\r") for line in lines)
                elif done or not follow:
                    break
                else:
                    time.sleep(TICK_S)
        if pending:
            yield pending.decode("utf-8", "replace").rstrip("\r")

    def delete(self, manifests: Sequence[Manifest]) -> list[str]:
        done = []
        for manifest in reversed(list(manifests)):
            _, kind, ns, name = identity(manifest, self.default_namespace)
            if kind == "Job":
                job = self._jobs.pop((ns, name), None)
                if job is not None:
                    job.terminate()
                done.append(f"job.batch/{name} {'deleted' if job else 'not found'}")
            elif kind == "Service" and self._services.get(ns, {}).pop(name, None) is not None:
                done.append(f"service/{name} deleted")
            elif kind == "ConfigMap" and self._configmaps.get(ns, {}).pop(name, None) is not None:
                done.append(f"configmap/{name} deleted")
        return done

    def close(self) -> None:
        for job in self._jobs.values():
            job.terminate()
