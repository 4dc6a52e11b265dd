"""``mlops deploy --env E``: bring an environment to its pins, smoke-test each release, and say what happened.

Push and local modes run releases through the ServingTarget seam (:mod:`mlops.adapters.serving`); pull mode
has nothing to run here (Argo CD or Flux applies the committed manifests). For every pinned model: deploy the
pinned version (unchanged ones are left alone), then the smoke test — ready, and one inference with a sample
built from the version's signature (``data_spec`` of its record) that must answer 200 with an output. Models
no longer pinned are removed (push: only objects this environment rendered, selected by label).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from mlops.adapters.serving import Outcome, Release, ServingError, ServingTarget
from mlops.core.errors import UserError
from mlops.core.repo import Repository
from mlops.core.spec.model import TensorSpec


@dataclass(frozen=True)
class ModelResult:
    model: str
    version: str
    previous: str | None
    changed: bool
    smoke: str  # "passed", "skipped" or why it failed
    seconds: float
    steps: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.smoke in ("passed", "skipped")


@dataclass(frozen=True)
class DeployResult:
    environment: str
    mode: str
    models: list[ModelResult]
    removed: list[str]
    seconds: float
    failure: str | None = None  # the first failure (a deploy that did not come up, a failed smoke test)
    failed_model: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_dict(self) -> dict[str, Any]:
        return {"environment": self.environment, "mode": self.mode, "ok": self.ok, "failure": self.failure,
                "failed_model": self.failed_model, "removed": self.removed, "seconds": round(self.seconds, 3),
                "models": [{**m.__dict__, "seconds": round(m.seconds, 3)} for m in self.models]}

    def lines(self) -> list[str]:
        out = [f"{m.model}: {m.previous or 'nothing'} → {m.version} ({'changed' if m.changed else 'unchanged'}, "
               f"smoke {m.smoke}, {m.seconds:.1f} s)" for m in self.models]
        out += [f"removed: {r}" for r in self.removed]
        out.append(f"{self.environment}: {'deployed' if self.ok else 'FAILED: ' + str(self.failure)} "
                   f"in {self.seconds:.1f} s ({self.mode} mode)")
        return out


def sample_request(tensor: TensorSpec) -> dict[str, Any]:
    """One sample of zeros shaped like the served input (the spec's ``serving.input``), as an OIP v2 request."""
    size = math.prod(tensor.shape)
    return {"id": "mlops-smoke", "inputs": [{"name": tensor.name, "datatype": tensor.datatype,
                                             "shape": [1, *tensor.shape], "data": [0] * size}]}


def smoke(target: ServingTarget, release: Release, tensor: TensorSpec) -> str:
    """``passed``, or why the release fails its smoke test."""
    if not target.ready(release):
        return "not ready"
    try:
        status, body = target.infer(release, sample_request(tensor))
    except ServingError as exc:
        return exc.message
    outputs = body.get("outputs") if isinstance(body, dict) else None
    if status != 200 or not outputs:
        return f"inference answered {status}: {str(body)[:160]}"
    values = [v for out in outputs for v in (out.get("data") or [])]
    if not values or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
        return "the answer is not finite numbers (NaN or infinity): the version is broken"
    return "passed"


def releases(repo: Repository, env: str, model: str | None = None,
             manifests: dict[str, list[dict[str, Any]]] | None = None,
             versions: dict[str, str] | None = None) -> list[Release]:
    """The releases an environment's pins ask for (``model`` only, when given; ``versions`` overrides pins)."""
    spec = repo.require_environment(env).spec
    if model is not None:
        repo.require_model(model)
        if model not in spec.pins:
            raise UserError.at(f"environments/{env}.yaml", f"{model} is not pinned in {env}; nothing to deploy")
    out = []
    for name in sorted(spec.pins):
        if model is not None and name != model:
            continue
        pin = spec.pin(name)
        assert pin is not None
        version = (versions or {}).get(name, pin.version)
        loaded = repo.require_record((name, version))
        out.append(Release(env, name, version, loaded.spec.artifact.digest,
                           spec.kubernetes.namespace if spec.kubernetes else "",
                           (manifests or {}).get(name, []), spec.local.ports.get(name, spec.local.port),
                           repo.root / loaded.doc.path))
    return out


def deploy(repo: Repository, env: str, target: ServingTarget, *, model: str | None = None,
           manifests: dict[str, list[dict[str, Any]]] | None = None, prune: bool = True,
           say: Any = None) -> DeployResult:
    """Deploy ``env``'s pins through ``target``; never raises for a release that fails: the result says it."""
    started = time.monotonic()
    spec = repo.require_environment(env).spec
    results: list[ModelResult] = []
    failure, failed = None, None
    for release in releases(repo, env, model, manifests):
        t0 = time.monotonic()
        try:
            outcome: Outcome = target.deploy(release, timeout_s=spec.delivery.timeout_s)
        except ServingError as exc:
            failure, failed = exc.message, release.model
            results.append(ModelResult(release.model, release.version, None, True, f"not deployed: {exc.message}",
                                       time.monotonic() - t0))
            break
        verdict = smoke(target, release, repo.model(release.model).serving.input) if spec.delivery.smoke else "skipped"
        results.append(ModelResult(release.model, release.version, outcome.previous, outcome.changed, verdict,
                                   time.monotonic() - t0, outcome.steps))
        if say is not None:
            say(f"{release.model}: {' · '.join(outcome.steps)}; smoke {verdict}")
        if verdict not in ("passed", "skipped"):
            failure, failed = f"{release.model}@{release.version} failed its smoke test: {verdict}", release.model
            break
    namespace = spec.kubernetes.namespace if spec.kubernetes else ""
    removed = target.prune(env, list(spec.pins), namespace) if prune and model is None and failure is None else []
    return DeployResult(env, spec.delivery.mode, results, removed, time.monotonic() - started, failure, failed)
