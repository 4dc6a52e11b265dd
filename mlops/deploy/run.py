"""The whole of ``mlops deploy``: the environment's mode, a Deployment on the forge, and rollback on failure."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlops.adapters.forge import Forge, forge_from_env
from mlops.adapters.scm import try_open_scm
from mlops.adapters.serving import ServingTarget, open_serving
from mlops.core.errors import UserError
from mlops.core.repo import Loaded, Repository
from mlops.deploy.deploy import DeployResult, deploy, releases
from mlops.deploy.manifests import publish_manifests, rendered_manifests
from mlops.deploy.rollback import open_rollback_pr, plan_rollback

Say = Callable[[str], None]


@dataclass(frozen=True)
class EnvOutcome:
    environment: str
    mode: str
    result: DeployResult | None = None  # push and local
    published: str | None = None  # pull: what was committed for the engine
    rollback: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.result is None or self.result.ok

    def to_dict(self) -> dict[str, Any]:
        return {"environment": self.environment, "mode": self.mode, "ok": self.ok,
                "result": self.result.to_dict() if self.result else None, "published": self.published,
                "rollback": self.rollback}

    def lines(self) -> list[str]:
        out = self.result.lines() if self.result else [f"{self.environment}: {self.published}"]
        return out + [f"rollback: {line}" for line in self.rollback]


def with_pin(repo: Repository, env: str, model: str, version: str) -> Repository:
    """A copy of ``repo`` in which ``env`` pins ``model`` at ``version`` (to render what a rollback deploys)."""
    loaded = repo.require_environment(env)
    spec = loaded.spec.model_copy(update={"pins": {**loaded.spec.pins, model: version}})
    return dataclasses.replace(repo, environments={**repo.environments, env: Loaded(loaded.doc, spec)})


def deploy_environment(repo: Repository, env: str, *, model: str | None = None, context: str | None = None,
                       rollback: bool = True, say: Say = print, forge: Forge | None = None) -> EnvOutcome:
    spec = repo.require_environment(env).spec
    mode = spec.delivery.mode
    forge = forge or forge_from_env(repo.root)
    scm = try_open_scm(repo.root)
    ref = (scm.head() if scm is not None else None) or "HEAD"
    try:
        deployment = forge.create_deployment(ref, env, f"{mode} deploy of {env}")
        forge.set_deployment_status(deployment, "in_progress", "deploying")
        if mode == "pull":
            published = publish_manifests(repo, env, forge, say)
            forge.set_deployment_status(deployment, "success", published)
            return EnvOutcome(env, mode, published=published)
        target = open_serving(mode, root=repo.root, context=context or (spec.kubernetes.context
                                                                        if spec.kubernetes else None))
        try:
            manifests = rendered_manifests(repo, env) if mode == "push" else None
            result = deploy(repo, env, target, model=model, manifests=manifests, say=say)
            notes: list[str] = []
            if not result.ok and rollback and result.failed_model:
                try:
                    notes = roll_back(repo, env, result.failed_model, target, forge, cause=str(result.failure),
                                      say=say)
                except UserError as exc:  # nothing to return to: the failure stands, and says why
                    notes = [f"not rolled back: {exc.problems[0].message}"]
        finally:
            target.close()
        forge.set_deployment_status(deployment, "success" if result.ok else "failure",
                                    "deployed" if result.ok else str(result.failure))
        return EnvOutcome(env, mode, result, rollback=notes)
    finally:
        forge.close()


def roll_back(repo: Repository, env: str, model: str, target: ServingTarget | None, forge: Forge, *,
              cause: str, to: str | None = None, say: Say = print, automatic: bool = True) -> list[str]:
    """Return ``model`` in ``env`` to its previous version now (push, local) and open the revert PR."""
    scm = try_open_scm(repo.root)
    if scm is None:
        raise UserError.at(repo.root.name, "rolling back needs the repository's git history; expected a clone")
    plan = plan_rollback(repo, scm, env, model, to=to, cause=cause)
    if automatic and plan.of_a_rollback:
        return [f"{model}@{plan.current} was itself pinned by a rollback: not rolling back automatically "
                "(a person decides)"]
    notes = []
    spec = repo.require_environment(env).spec
    if target is not None:
        previous = with_pin(repo, env, model, plan.target)
        manifests = rendered_manifests(previous, env) if spec.delivery.mode == "push" else None
        (release,) = releases(previous, env, model, manifests)
        outcome = target.deploy(release, timeout_s=spec.delivery.timeout_s)
        notes.append(f"{model} back on {plan.target} in {env} ({'; '.join(outcome.steps)})")
        say(notes[-1])
    pr, merged = open_rollback_pr(repo, scm, forge, plan, auto_merge=spec.policy.auto_merge_rollback)
    notes.append(f"revert PR #{pr.number} ({pr.url}) {'merged by policy' if merged else 'opened for review'}")
    say(notes[-1])
    return notes
