"""The ``kubernetes`` ClusterTarget: the official Python client against a real API server.

- Jobs are created (``POST``); when one of that name exists (409), the one running this exact manifest
  (same ``mlops.dev/manifest-sha256``) is left alone and followed; a changed or failed one is deleted and
  created again (a Job's pod template is immutable, so it cannot be patched).
- Other objects (the headless Service, ConfigMaps, ServiceAccounts) are server-side applied
  (``PATCH application/apply-patch+yaml``, field manager ``mlops``).
- Deletes cascade (``propagationPolicy: Background``): batch/v1 otherwise orphans a Job's pods.
- Errors become one line: the API server's own Status message, never headers or credentials.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from mlops.adapters.cluster import objects
from mlops.adapters.cluster.base import (
    HASH_ANNOTATION,
    Action,
    Applied,
    ClusterError,
    JobStatus,
    Manifest,
    PodInfo,
    identity,
    with_hash,
)

FIELD_MANAGER = "mlops"
REQUEST_TIMEOUT = (10, 60)  # connect, read (seconds) for every call but log streams
CORE_KINDS = {"Service": "service", "ConfigMap": "config_map", "ServiceAccount": "service_account",
              "PersistentVolumeClaim": "persistent_volume_claim"}


def _status_message(exc: Exception) -> str:
    """The API server's Status message of an ApiException, else its HTTP reason; nothing else."""
    body = getattr(exc, "body", None)
    with contextlib.suppress(ValueError, TypeError):
        status = json.loads(body) if isinstance(body, (str, bytes)) else None
        if isinstance(status, dict) and status.get("message"):
            return f"{getattr(exc, 'status', '?')} {status.get('reason') or ''}: {status['message']}".replace(" :", ":")
    return f"{getattr(exc, 'status', '?')} {getattr(exc, 'reason', '') or type(exc).__name__}"


class KubernetesTarget:
    """A ClusterTarget over ``kubernetes.client.ApiClient``; build it with ``from_kubeconfig``."""

    def __init__(self, api_client: Any, *, default_namespace: str = "default", delete_wait_s: float = 120.0) -> None:
        from kubernetes import client

        self._api = api_client
        self._core = client.CoreV1Api(api_client)
        self._batch = client.BatchV1Api(api_client)
        self.default_namespace = default_namespace
        self.delete_wait_s = delete_wait_s
        self.server = api_client.configuration.host
        self._selectors: dict[tuple[str, str], str] = {}  # (namespace, job) → its pods' label selector

    @classmethod
    def from_kubeconfig(cls, *, context: str | None = None, config_file: str | None = None) -> Self:
        """Connect like kubectl: ``KUBECONFIG`` (or ~/.kube/config) and its context, else in-cluster."""
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        path = config_file or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
        exists = any(Path(p).expanduser().is_file() for p in path.split(os.pathsep) if p)
        try:
            if not exists and os.environ.get("KUBERNETES_SERVICE_HOST"):
                configuration = client.Configuration()
                config.load_incluster_config(client_configuration=configuration)
                ns_file = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
                namespace = ns_file.read_text().strip() if ns_file.is_file() else "default"
                return cls(client.ApiClient(configuration), default_namespace=namespace)
            if not exists:
                raise ClusterError(f"no kubeconfig at {path}; set KUBECONFIG to a cluster's kubeconfig "
                                   "(or train with --target local)")
            contexts, active = config.list_kube_config_contexts(config_file=path)
            chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
            if chosen is None:
                names = ", ".join(sorted(str(c.get("name")) for c in contexts)) or "none"
                raise ClusterError(f"kubeconfig {path} has no context {context!r} (it has: {names})")
            namespace = str((chosen.get("context") or {}).get("namespace") or "default")
            api = config.new_client_from_config(config_file=path, context=context, persist_config=False)
        except ConfigException as exc:
            raise ClusterError(f"cannot load kubeconfig {path}: {str(exc).splitlines()[0][:200]}") from None
        return cls(api, default_namespace=namespace)

    # --- error translation -----------------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return fn(*args, **kwargs)
        except ApiException:
            raise
        except HTTPError as exc:
            parts = urlsplit(self.server)
            where = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
            reason = getattr(exc, "reason", None) or exc
            raise ClusterError(f"cannot reach the Kubernetes API server at {where} ({what}): "
                               f"{type(reason).__name__}") from None

    def _request(self, what: str, fn: Callable[..., Any], *args: Any, ok: tuple[int, ...] = (),
                 **kwargs: Any) -> Any:
        """Call the API; an error not in ``ok`` becomes a one-line ClusterError; one in ``ok`` returns None."""
        from kubernetes.client.exceptions import ApiException

        try:
            return self._call(what, fn, *args, _request_timeout=REQUEST_TIMEOUT, **kwargs)
        except ApiException as exc:
            if exc.status in ok:
                return None
            raise ClusterError(f"{what}: {_status_message(exc)}") from None

    def _read(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        resp = self._request(what, fn, *args, _preload_content=False, **kwargs)
        data: dict[str, Any] = json.loads(resp.data)
        return data

    # --- ClusterTarget ------------------------------------------------------------------------
    def apply(self, manifests: Sequence[Manifest]) -> list[Applied]:
        return [self._apply_one(m) for m in manifests]

    def _apply_one(self, manifest: Manifest) -> Applied:
        api_version, kind, ns, name = identity(manifest, self.default_namespace)
        body = with_hash(manifest)
        body["metadata"]["namespace"] = ns
        if (api_version, kind) == ("batch/v1", "Job"):
            self._selectors.pop((ns, name), None)  # a replaced Job has a new controller uid
            return Applied(kind, name, self._apply_job(ns, name, body))
        if api_version == "v1" and kind in CORE_KINDS:
            patch = getattr(self._core, f"patch_namespaced_{CORE_KINDS[kind]}")
            resp = self._request(f"apply {kind} {ns}/{name}", patch, name, ns, body, field_manager=FIELD_MANAGER,
                                 force=True, _content_type="application/apply-patch+yaml", _preload_content=False)
            return Applied(kind, name, "created" if resp.status == 201 else "applied")
        raise ClusterError(f"cannot apply {kind} ({api_version}) {name}: the training target applies a batch/v1 Job "
                           f"and v1 {', '.join(sorted(CORE_KINDS))}")

    def _create_job(self, ns: str, name: str, body: dict[str, Any]) -> bool:
        """Create the Job; False when one of that name exists already."""
        created = self._request(f"create job {ns}/{name}", self._batch.create_namespaced_job, ns, body, ok=(409,),
                                field_manager=FIELD_MANAGER, _headers={"Content-Type": "application/json"},
                                _preload_content=False)
        return created is not None

    def _apply_job(self, ns: str, name: str, body: dict[str, Any]) -> Action:
        if self._create_job(ns, name, body):
            return "created"
        existing = self._read(f"read job {ns}/{name}", self._batch.read_namespaced_job, name, ns)
        same = (existing.get("metadata", {}).get("annotations") or {}).get(HASH_ANNOTATION) == \
            body["metadata"]["annotations"][HASH_ANNOTATION]
        if same and objects.job_status(existing).phase != "failed":
            return "unchanged"
        self._delete_job(ns, name)
        deadline = time.monotonic() + self.delete_wait_s
        while not self._create_job(ns, name, body):  # the old Job may linger while it is being deleted
            if time.monotonic() > deadline:
                raise ClusterError(f"job {ns}/{name} was deleted to be replaced but still exists after "
                                   f"{self.delete_wait_s:.0f}s")
            time.sleep(0.5)
        return "replaced"

    def _delete_job(self, ns: str, name: str) -> bool:
        self._selectors.pop((ns, name), None)
        done = self._request(f"delete job {ns}/{name}", self._batch.delete_namespaced_job, name, ns, ok=(404,),
                             propagation_policy="Background", _preload_content=False)
        return done is not None

    def _read_job(self, namespace: str, name: str) -> dict[str, Any]:
        job = self._read(f"read job {namespace}/{name}", self._batch.read_namespaced_job, name, namespace)
        match = ((job.get("spec") or {}).get("selector") or {}).get("matchLabels") or {"job-name": name}
        self._selectors[(namespace, name)] = ",".join(f"{k}={v}" for k, v in sorted(match.items()))
        return job

    def job_status(self, namespace: str, name: str) -> JobStatus:
        return objects.job_status(self._read_job(namespace, name))

    def job_pods(self, namespace: str, name: str) -> list[PodInfo]:
        """The pods the Job's own selector matches (its controller uid), read with the Job's last status."""
        selector = self._selectors.get((namespace, name))
        if selector is None:
            self._read_job(namespace, name)
            selector = self._selectors[(namespace, name)]
        pods = self._read(f"list pods of job {namespace}/{name}", self._core.list_namespaced_pod, namespace,
                          label_selector=selector)
        return objects.sorted_pods(pods.get("items") or [])

    def pod_log(self, namespace: str, pod: str, *, follow: bool, new_only: bool = False) -> Iterator[str]:
        from kubernetes.client.exceptions import ApiException

        try:
            resp = self._call(f"log of pod {namespace}/{pod}", self._core.read_namespaced_pod_log, pod, namespace,
                              follow=follow, tail_lines=0 if new_only else None, _preload_content=False,
                              _request_timeout=None)
        except ApiException as exc:
            if exc.status == 400:  # the container has not started (or was never created): no log yet
                return
            raise ClusterError(f"log of pod {namespace}/{pod}: {_status_message(exc)}") from None
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        try:
            for chunk in resp.stream(amt=None, decode_content=True):
                pending += decoder.decode(chunk)
                *lines, pending = pending.split("\n")
                yield from (line.rstrip("\r") for line in lines)
            pending += decoder.decode(b"", final=True)
            if pending:
                yield pending.rstrip("\r")
        finally:
            resp.release_conn()

    def delete(self, manifests: Sequence[Manifest]) -> list[str]:
        done = []
        for manifest in reversed(list(manifests)):
            api_version, kind, ns, name = identity(manifest, self.default_namespace)
            if (api_version, kind) == ("batch/v1", "Job"):
                found = self._delete_job(ns, name)
            elif api_version == "v1" and kind in CORE_KINDS:
                fn = getattr(self._core, f"delete_namespaced_{CORE_KINDS[kind]}")
                found = self._request(f"delete {kind} {ns}/{name}", fn, name, ns, ok=(404,),
                                      _preload_content=False) is not None
            else:
                continue
            done.append(f"{str(Applied(kind, name, 'created')).rsplit(' ', 1)[0]} "
                        f"{'deleted' if found else 'not found'}")
        return done

    def close(self) -> None:
        self._api.close()
