"""The API server stand-in (``kube_stub``) extended for serving: what ``mlops deploy`` in push mode talks to.

Added: the kinds ``mlops render`` produces (Namespace cluster-scoped; Deployment, HPA, PDB, NetworkPolicy, Argo
Rollouts and prometheus-operator objects namespaced), a Deployment controller and the service proxy.

The Deployment controller models what ``kubectl rollout status`` reads: a change of ``spec`` bumps
``metadata.generation``; after ``observe_s`` the controller sets ``status.observedGeneration``; then, one replica per
``step_s``, a new replica becomes updated and available while an old one goes away (``status.replicas`` counts
both during the rollout), until every replica is updated and available. A Deployment whose image names an entry of
``failing_images`` never gets an available replica and after ``deadline_s`` gets the ``Progressing`` condition with
reason ``ProgressDeadlineExceeded`` (as ``progressDeadlineSeconds`` would). It does NOT model pods, ReplicaSets,
readiness probes, surge/unavailable budgets, rollbacks of ReplicaSets, scaling by the HPA, or admission; Argo
Rollouts objects are stored but no Rollout controller runs.

The service proxy (``/api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH``) forwards to ``backends[(ns, name)]``
— a real ``mlops serve`` process a test starts — so the smoke test is a real inference.
"""

from __future__ import annotations

import copy
import json
import time
import urllib.error
import urllib.request
from typing import Any

from tests.helpers.kube_stub import KubeStub
from tests.helpers.kube_stub_http import SERVING_KINDS, ApiError


class ServingStub(KubeStub):
    def __init__(self, *, observe_s: float = 0.05, step_s: float = 0.05, deadline_s: float = 0.6,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kinds.update(SERVING_KINDS)
        self.observe_s, self.step_s, self.deadline_s = observe_s, step_s, deadline_s
        self.failing_images: set[str] = set()
        self.backends: dict[tuple[str, str], str] = {}

    def create(self, plural: str, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        stored = super().create(plural, ns, body)
        if plural == "deployments":
            self._spawn(self._roll, ns, stored["metadata"]["name"], 1)
        return stored

    def update(self, plural: str, ns: str, name: str, new: dict[str, Any]) -> dict[str, Any]:
        if plural != "deployments":
            return super().update(plural, ns, name, new)
        old = self.get(plural, ns, name)
        changed = old is not None and old.get("spec") != new.get("spec")
        stored = super().update(plural, ns, name, new)
        if changed:
            with self.lock:
                obj = self.objects[(plural, ns, name)]
                obj["metadata"]["generation"] = int(obj["metadata"].get("generation", 1)) + 1
                generation = obj["metadata"]["generation"]
            self._spawn(self._roll, ns, name, generation)
        return stored

    def _set(self, ns: str, name: str, generation: int, **status: Any) -> bool:
        with self.changed:
            obj = self.objects.get(("deployments", ns, name))
            if obj is None or obj["metadata"].get("generation") != generation:
                return False  # deleted, or a newer rollout took over
            obj.setdefault("status", {}).update(status)
            self.changed.notify_all()
            return True

    def _roll(self, ns: str, name: str, generation: int) -> None:
        time.sleep(self.observe_s)
        obj = self.get("deployments", ns, name)
        if obj is None:
            return
        want = int(obj["spec"].get("replicas", 1))
        old = int((obj.get("status") or {}).get("availableReplicas", 0)) if generation > 1 else 0
        image = obj["spec"]["template"]["spec"]["containers"][0].get("image", "")
        if not self._set(ns, name, generation, observedGeneration=generation, updatedReplicas=0, replicas=old,
                         conditions=[{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}]):
            return
        if image in self.failing_images:
            time.sleep(self.deadline_s)
            self._set(ns, name, generation, conditions=[{
                "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                "message": f'ReplicaSet "{name}-new" has timed out progressing.'}])
            return
        for updated in range(1, want + 1):
            time.sleep(self.step_s)
            remaining_old = max(0, old - updated)
            if not self._set(ns, name, generation, updatedReplicas=updated, availableReplicas=updated + remaining_old,
                             readyReplicas=updated + remaining_old, replicas=updated + remaining_old):
                return
        self._set(ns, name, generation, replicas=want, conditions=[
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}])

    def proxy(self, ns: str, name: str, method: str, rest: str, body: Any) -> tuple[int, Any]:
        if self.get("services", ns, name) is None:
            raise ApiError(404, "NotFound", f'services "{name}" not found')
        backend = self.backends.get((ns, name))
        if backend is None:
            raise ApiError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"')
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(backend + rest, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def deployment(self, ns: str, name: str) -> dict[str, Any]:
        obj = self.get("deployments", ns, name)
        assert obj is not None
        return copy.deepcopy(obj)
