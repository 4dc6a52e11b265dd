"""``mlops rollback --env E --model M [--to VERSION]``: back to the previous good version, and git says so.

Push and local environments return to the previous version at once (the ServingTarget deploys it); in every
mode a pull request reverts the pin change (branch ``mlops/rollback/<env>-<model>``, labelled, with the cause in
its body), merged by itself only when the environment's policy says ``auto_merge_rollback``. One rollback PR per
(environment, model): running it again updates the open one. A rollback is never rolled back automatically.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops.adapters.forge import Forge, PullRequest
from mlops.adapters.scm import Scm
from mlops.core.errors import Problem, UserError
from mlops.core.repo import ENVIRONMENTS, Repository
from mlops.deploy.history import ROLLBACK_MARK, previous_version
from mlops.deploy.pin import pinned_text

LABELS = ("mlops", ROLLBACK_MARK)


@dataclass(frozen=True)
class RollbackPlan:
    environment: str
    model: str
    current: str
    target: str
    cause: str
    reverts: str | None  # the commit that pinned ``current``
    of_a_rollback: bool  # ``current`` was itself pinned by a rollback

    @property
    def branch(self) -> str:
        return f"mlops/rollback/{self.environment}-{self.model}"


def plan_rollback(repo: Repository, scm: Scm, env: str, model: str, *, to: str | None = None,
                  cause: str = "") -> RollbackPlan:
    """Which version to return to (``to``, else the one pinned before the current one) and why."""
    spec = repo.require_environment(env).spec
    repo.require_model(model)
    pin = spec.pin(model)
    if pin is None:
        raise UserError(Problem(f"{ENVIRONMENTS}/{env}.yaml", 1, 1, f"{model} is not pinned in {env}; nothing to "
                                                                      "roll back"))
    previous, change = previous_version(scm, env, model, pin.version)
    target = to or previous
    if target is None:
        raise UserError(Problem(f"{ENVIRONMENTS}/{env}.yaml", 1, 1, f"no earlier version of {model} was pinned in "
                                                                      f"{env}; give --to VERSION"))
    repo.require_record((model, target))
    if target == pin.version:
        raise UserError(Problem(f"{ENVIRONMENTS}/{env}.yaml", 1, 1, f"{model} already runs {target} in {env}"))
    return RollbackPlan(env, model, pin.version, target, cause or "requested", change.commit.sha if change else None,
                        bool(change and change.is_rollback))


def rollback_body(plan: RollbackPlan) -> str:
    reverts = f"the pin change {plan.reverts[:12]}" if plan.reverts else "the current pin"
    return "\n".join([
        f"<!-- {ROLLBACK_MARK} {plan.environment}/{plan.model} -->",
        f"## Rollback: `{plan.model}` in {plan.environment}, `{plan.current}` → `{plan.target}`",
        "",
        f"**Cause:** {plan.cause}",
        "",
        f"This reverts {reverts}: {plan.environment} pins `{plan.model}` at `{plan.target}` again, the version that "
        "ran before. Push and local environments already serve it; merging makes git say so.",
        "",
    ])


def open_rollback_pr(repo: Repository, scm: Scm, forge: Forge, plan: RollbackPlan, *, base: str = "main",
                     auto_merge: bool = False) -> tuple[PullRequest, bool]:
    """Open (or update) the one rollback PR of ``plan``; merge it when ``auto_merge``. Returns (pr, merged)."""
    path = f"{ENVIRONMENTS}/{plan.environment}.yaml"
    text = pinned_text(repo, plan.environment, plan.model, plan.target)
    message = (f"Revert {plan.model} in {plan.environment} to {plan.target} [{ROLLBACK_MARK}]\n\n"
               f"Cause: {plan.cause}\n" + (f"Reverts the pin change {plan.reverts}.\n" if plan.reverts else ""))
    title = f"Rollback {plan.model} in {plan.environment} to {plan.target}"
    existing = forge.find_open_pr(plan.branch, base)
    parent = existing.head_sha if existing is not None and existing.head_sha else scm.require(base)
    current = scm.read(parent, path)
    if current is None or current.decode("utf-8") != text:
        forge.commit_files(plan.branch, {scm.repo_path(path): text.encode("utf-8")}, message, parent=parent,
                           reset=existing is None)
    if existing is not None:
        pr = forge.update_pr(existing.number, title=title, body=rollback_body(plan))
    else:
        pr = forge.open_pr(plan.branch, base, title, rollback_body(plan))
    forge.add_labels(pr.number, LABELS)
    if not auto_merge:
        return pr, False
    head = forge.get_pr(pr.number).head_sha
    forge.merge_pr(pr.number, head, f"{title} [{ROLLBACK_MARK}]\n\n{plan.cause}")
    return pr, True
