"""Push mode on Kubernetes with the official client: server-side apply, prune by label, rollout wait, smoke test.

* Every rendered object is server-side applied (``PATCH`` with ``application/apply-patch+yaml``, field manager
  ``mlops``, ``force=true``: mlops owns the fields it renders).
* Prune deletes only objects that carry this environment's labels (``app.kubernetes.io/managed-by=mlops`` and
  ``mlops.dev/environment=<env>``) and that the run did not apply — never anything else, never a Namespace.
* The rollout is followed like ``kubectl rollout status``: the Deployment's ``status.observedGeneration`` reaches
  its generation, every replica is updated and available, and no old replica is left; the ``Progressing``
  condition with reason ``ProgressDeadlineExceeded`` fails at once. With Argo Rollouts the Rollout's phase decides
  (``Healthy``; ``Degraded`` fails).
* The smoke test goes through the API server's service proxy (``/api/v1/namespaces/NS/services/NAME:http/proxy/…``),
  so it reaches the Service the way in-cluster clients do, without a port-forward.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from mlops.adapters.cluster.kube import FIELD_MANAGER, REQUEST_TIMEOUT, KubernetesTarget, _status_message
from mlops.adapters.serving import Outcome, Release, Serving, ServingError

# (apiVersion, kind) → (API prefix, plural, namespaced)
KINDS: dict[tuple[str, str], tuple[str, str, bool]] = {
    ("v1", "Namespace"): ("/api/v1", "namespaces", False),
    ("v1", "ServiceAccount"): ("/api/v1", "serviceaccounts", True),
    ("v1", "ConfigMap"): ("/api/v1", "configmaps", True),
    ("v1", "Service"): ("/api/v1", "services", True),
    ("apps/v1", "Deployment"): ("/apis/apps/v1", "deployments", True),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): ("/apis/autoscaling/v2", "horizontalpodautoscalers", True),
    ("policy/v1", "PodDisruptionBudget"): ("/apis/policy/v1", "poddisruptionbudgets", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("/apis/networking.k8s.io/v1", "networkpolicies", True),
    ("argoproj.io/v1alpha1", "Rollout"): ("/apis/argoproj.io/v1alpha1", "rollouts", True),
    ("argoproj.io/v1alpha1", "AnalysisTemplate"): ("/apis/argoproj.io/v1alpha1", "analysistemplates", True),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): ("/apis/monitoring.coreos.com/v1", "servicemonitors", True),
    ("monitoring.coreos.com/v1", "PrometheusRule"): ("/apis/monitoring.coreos.com/v1", "prometheusrules", True),
}
VERSION_ANNOTATION = "mlops.dev/version"
POLL_S = 1.0


def env_selector(environment: str) -> str:
    return f"app.kubernetes.io/managed-by=mlops,mlops.dev/environment={environment}"


class KubernetesServing(KubernetesTarget):
    """The push-mode ServingTarget over the official client (connection and errors as the training target)."""

    poll_s = POLL_S

    def __init__(self, api_client: Any, **kwargs: Any) -> None:
        super().__init__(api_client, **kwargs)
        self._applied: dict[str, set[tuple[str, str, str, str]]] = {}

    # -- REST --------------------------------------------------------------------------------------------------

    def _path(self, api_version: str, kind: str, namespace: str, name: str | None = None) -> str:
        found = KINDS.get((api_version, kind))
        if found is None:
            raise ServingError(f"cannot apply {kind} ({api_version}): push mode applies "
                               f"{', '.join(sorted(k for _, k in KINDS))}")
        prefix, plural, namespaced = found
        base = f"{prefix}/namespaces/{namespace}/{plural}" if namespaced else f"{prefix}/{plural}"
        return base + (f"/{name}" if name else "")

    def _rest(self, what: str, method: str, path: str, *, query: Sequence[tuple[str, str]] = (), body: Any = None,
              content_type: str = "application/json", ok: tuple[int, ...] = ()) -> tuple[int, Any]:
        from kubernetes.client.exceptions import ApiException

        method_, url, headers, body_, post = self._api.param_serialize(
            method, path, query_params=list(query), body=body, auth_settings=["BearerToken"],
            header_params={"Content-Type": content_type, "Accept": "application/json"})
        resp = self._call(what, self._api.call_api, method_, url, header_params=headers, body=body_,
                          post_params=post, _request_timeout=REQUEST_TIMEOUT)
        raw = resp.read()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        status = int(resp.status)
        if status >= 400 and status not in ok:
            error = ApiException(status=status, reason=resp.reason)
            error.body = raw
            raise ServingError(f"{what}: {_status_message(error)}", where="kubernetes") from None
        return status, data

    def apply_object(self, manifest: Mapping[str, Any], namespace: str) -> str:
        api_version, kind = str(manifest.get("apiVersion")), str(manifest.get("kind"))
        meta = manifest.get("metadata") or {}
        ns = str(meta.get("namespace") or namespace)
        path = self._path(api_version, kind, ns, str(meta.get("name")))
        status, _ = self._rest(f"apply {kind} {ns}/{meta.get('name')}", "PATCH", path, body=dict(manifest),
                               query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
                               content_type="application/apply-patch+yaml")
        return f"{kind.lower()}/{meta.get('name')} {'created' if status == 201 else 'applied'}"

    # -- rollout -----------------------------------------------------------------------------------------------

    def _deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        status, data = self._rest(f"read deployment {namespace}/{name}", "GET",
                                  self._path("apps/v1", "Deployment", namespace, name), ok=(404,))
        return data if status == 200 and isinstance(data, dict) else None

    def rollout_state(self, namespace: str, name: str, *, rollout: bool) -> tuple[str, str]:
        """("done" | "progressing" | "failed", why) of a Deployment (or an Argo Rollout) now."""
        if rollout:
            _, obj = self._rest(f"read rollout {namespace}/{name}", "GET",
                                self._path("argoproj.io/v1alpha1", "Rollout", namespace, name))
            status = (obj or {}).get("status") or {}
            phase, message = status.get("phase", ""), status.get("message", "")
            if phase == "Healthy":
                return "done", "rollout healthy"
            if phase == "Degraded":
                return "failed", f"rollout degraded: {message}"
            return "progressing", f"rollout {phase or 'pending'} {message}".strip()
        obj = self._deployment(namespace, name)
        if obj is None:
            return "failed", f"deployment {namespace}/{name} does not exist"
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        for condition in status.get("conditions") or []:
            if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
                return "failed", f"ProgressDeadlineExceeded: {condition.get('message', '')}"
        want = int(spec.get("replicas", 1))
        if int(status.get("observedGeneration", 0)) < int((obj.get("metadata") or {}).get("generation", 0)):
            return "progressing", "waiting for the deployment spec update to be observed"
        updated, available = int(status.get("updatedReplicas", 0)), int(status.get("availableReplicas", 0))
        total = int(status.get("replicas", 0))
        if updated < want:
            return "progressing", f"{updated} of {want} updated replicas"
        if total > updated:
            return "progressing", f"{total - updated} old replicas are pending termination"
        if available < updated:
            return "progressing", f"{available} of {updated} updated replicas are available"
        return "done", f"{updated} of {want} replicas updated and available"

    # -- the ServingTarget seam --------------------------------------------------------------------------------

    def deploy(self, release: Release, *, timeout_s: float) -> Outcome:
        started = time.monotonic()
        previous = self.current(release.environment, release.model, release.namespace).version
        applied = self._applied.setdefault(release.environment, set())
        steps = []
        for manifest in release.manifests:
            steps.append(self.apply_object(manifest, release.namespace))
            meta = manifest.get("metadata") or {}
            applied.add((str(manifest.get("apiVersion")), str(manifest.get("kind")),
                         str(meta.get("namespace") or release.namespace), str(meta.get("name"))))
        rollout = any(m.get("kind") == "Rollout" for m in release.manifests)
        deadline = time.monotonic() + timeout_s
        while True:
            state, why = self.rollout_state(release.namespace, release.model, rollout=rollout)
            if state == "done":
                steps.append(why)
                break
            if state == "failed" or time.monotonic() > deadline:
                raise ServingError(f"{release.model}@{release.version} in {release.namespace}: "
                                   f"{why if state == 'failed' else f'not rolled out after {timeout_s:.0f} s ({why})'}")
            time.sleep(self.poll_s)
        return Outcome(release, previous != release.version, previous, time.monotonic() - started, steps)

    def _proxy(self, release: Release, path: str) -> str:
        return f"/api/v1/namespaces/{release.namespace}/services/{release.model}:http/proxy/{path.lstrip('/')}"

    def infer(self, release: Release, body: Mapping[str, Any], *, timeout_s: float = 30.0) -> tuple[int, Any]:
        return self._rest(f"smoke inference of {release.model}", "POST",
                          self._proxy(release, f"v2/models/{release.model}/infer"), body=dict(body),
                          ok=tuple(range(400, 600)))

    def ready(self, release: Release) -> bool:
        status, _ = self._rest(f"readiness of {release.model}", "GET", self._proxy(release, "v2/health/ready"),
                               ok=tuple(range(400, 600)))
        return status == 200

    def current(self, environment: str, model: str, namespace: str = "") -> Serving:
        obj = self._deployment(namespace or self.default_namespace, model)
        version = ((obj or {}).get("metadata") or {}).get("annotations", {}).get(VERSION_ANNOTATION)
        return Serving(model, version, f"service {model}", "deployment" if obj else "not deployed")

    def prune(self, environment: str, keep: Sequence[str], namespace: str = "") -> list[str]:
        applied = self._applied.get(environment, set())
        removed = []
        for (api_version, kind), (_, _, namespaced) in KINDS.items():
            if not namespaced:
                continue  # never a Namespace, never anything cluster-wide
            _, listing = self._rest(f"list {kind}", "GET", self._path(api_version, kind, namespace),
                                    query=[("labelSelector", env_selector(environment))], ok=(404,))
            for item in (listing or {}).get("items") or []:
                name = (item.get("metadata") or {}).get("name")
                if (api_version, kind, namespace, name) in applied:
                    continue
                self._rest(f"delete {kind} {namespace}/{name}", "DELETE",
                           self._path(api_version, kind, namespace, name),
                           query=[("propagationPolicy", "Background")], ok=(404,))
                removed.append(f"{kind.lower()}/{name} pruned")
        return removed
