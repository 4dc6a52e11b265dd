"""``mlops promote MODEL --to ENV``: one pull request that pins, in ENV, the version running in the environment
before it — with the evidence in its body — merged by itself only where the policy allows it *with confidence*.

The branch is ``mlops/promote/<model>-<env>``; running the command again updates the open pull request (its pin,
its body, its status) and never opens a second one. The body is the evidence a reviewer needs: the version record
(artifact digest, data version, code commit, params), the gate verdict against the target's policy with 95 %
intervals, and the deploy and smoke result in the source environment. The ``mlops/gates`` status is set on the
pull request's head. Into a production environment a promotion never merges itself; elsewhere it does when the
target's ``policy.auto_merge`` is on, every gate passed, and every gate's pessimistic bound clears its rule by
``policy.confidence_margin``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlops.adapters.forge import Forge, PullRequest
from mlops.adapters.scm import Scm
from mlops.core.confidence import confidence
from mlops.core.errors import Problem, UserError
from mlops.core.policy import Verdict
from mlops.core.repo import ENVIRONMENTS, Repository
from mlops.deploy.pin import pinned_text
from mlops.report.escape import code, text
from mlops.report.markdown import verdict_markdown

STATUS_CONTEXT = "mlops/gates"
LABELS = ("mlops", "mlops-promotion")


@dataclass(frozen=True)
class Promotion:
    model: str
    source: str
    target: str
    version: str
    image: str | None

    @property
    def branch(self) -> str:
        return f"mlops/promote/{self.model}-{self.target}"


@dataclass(frozen=True)
class Promoted:
    promotion: Promotion
    pr: PullRequest
    merged: bool
    why: str  # why it merged, or why it waits for review

    def line(self) -> str:
        state = "merged by policy" if self.merged else "waits for review"
        return (f"{self.promotion.model}@{self.promotion.version} {self.promotion.source} → {self.promotion.target}: "
                f"PR #{self.pr.number} {state} ({self.why})")


def plan_promotion(repo: Repository, model: str, to: str) -> Promotion:
    """What promoting ``model`` into ``to`` means: the version pinned in the environment before it."""
    target = repo.require_environment(to).spec
    repo.require_model(model)
    where = f"{ENVIRONMENTS}/{to}.yaml"
    if target.promoted_from is None:
        raise UserError(Problem(where, 1, 1, f"{to} is promoted from nothing (it is the first environment); "
                                             "merges deploy there"))
    source = repo.require_environment(target.promoted_from).spec
    pin = source.pin(model)
    if pin is None:
        raise UserError(Problem(f"{ENVIRONMENTS}/{source.name}.yaml", 1, 1, f"{model} is not pinned in "
                                                                            f"{source.name}; nothing to promote"))
    current = target.pin(model)
    if current is not None and current.version == pin.version:
        raise UserError(Problem(where, 1, 1, f"{to} already pins {model} at {pin.version}"))
    repo.require_record((model, pin.version))
    return Promotion(model, source.name, to, pin.version, pin.image)


def _deploy_lines(deploy: Mapping[str, Any] | None, promotion: Promotion) -> list[str]:
    if not deploy:
        return [f"- no deploy result of {promotion.source} was given (`mlops deploy --json` of the source)"]
    models = (deploy.get("result") or {}).get("models") or []
    mine = next((m for m in models if m.get("model") == promotion.model), None)
    if mine is None:
        return [f"- {text(deploy.get('published') or 'no release of this model in the deploy result')}"]
    return [f"- deployed {code(mine.get('version'))} in {text(promotion.source)} "
            f"({text(deploy.get('mode'))} mode): smoke test {text(mine.get('smoke'))}"]


def promotion_body(repo: Repository, promotion: Promotion, verdict: Verdict | None,
                   deploy: Mapping[str, Any] | None, decision: str) -> str:
    record = repo.require_record((promotion.model, promotion.version)).spec
    params = ", ".join(f"{code(f'{k}={v}')}" for k, v in sorted(record.params.items())) or "none"
    lines = [f"<!-- mlops-promotion {promotion.model}/{promotion.target} -->",
             f"## Promote {code(promotion.model)} {code(promotion.version)}: {text(promotion.source)} → "
             f"{text(promotion.target)}", "", f"**Decision:** {text(decision)}", "",
             "### The version", "", "| | |", "|---|---|",
             f"| artifact | {code(record.artifact.digest)} |", f"| data version | {code(record.data.md5)} |",
             f"| code commit | {code(record.code.commit[:12])} |", f"| params | {params} |",
             f"| created | {text(record.created)} |", "",
             f"### In {text(promotion.source)}", "", *_deploy_lines(deploy, promotion), ""]
    lines += ["### Gates of " + text(promotion.target), ""]
    lines += [verdict_markdown(verdict)] if verdict is not None else ["_Not evaluated._", ""]
    return "\n".join(lines) + "\n"


def decide(repo: Repository, promotion: Promotion, verdict: Verdict | None,
           deploy: Mapping[str, Any] | None) -> tuple[bool, str]:
    """(merge by itself?, why) from the target's policy, the verdict's confidence and the source's deploy."""
    policy = repo.require_environment(promotion.target).spec
    if deploy is not None and not deploy.get("ok", False):
        return False, f"the deploy in {promotion.source} failed"
    if verdict is None or not verdict.passed:
        return False, "a gate failed" if verdict is not None else "no verdict"
    if policy.is_production:
        return False, f"{promotion.target} is production: its approvers review every promotion"
    if not policy.policy.auto_merge:
        return False, f"{promotion.target}'s policy asks for review (auto_merge is off)"
    conf = confidence(verdict, policy.policy.confidence_margin)
    if not conf.confident:
        return False, "not confident: " + "; ".join(conf.reasons)
    return True, f"every gate passed with confidence (margin {policy.policy.confidence_margin:g})"


def open_promotion_pr(repo: Repository, scm: Scm, forge: Forge, promotion: Promotion, verdict: Verdict | None,
                      deploy: Mapping[str, Any] | None = None, *, base: str = "main") -> Promoted:
    """Open or update the one promotion PR, set its status, and merge it when :func:`decide` says so."""
    path = f"{ENVIRONMENTS}/{promotion.target}.yaml"
    new = pinned_text(repo, promotion.target, promotion.model, promotion.version, promotion.image)
    merge, why = decide(repo, promotion, verdict, deploy)
    title = f"Promote {promotion.model} {promotion.version} to {promotion.target}"
    body = promotion_body(repo, promotion, verdict, deploy, ("merges by policy: " if merge else "review: ") + why)
    existing = forge.find_open_pr(promotion.branch, base)
    parent = existing.head_sha if existing is not None and existing.head_sha else scm.require(base)
    current = scm.read(parent, path)
    if current is None or current.decode("utf-8") != new:
        forge.commit_files(promotion.branch, {scm.repo_path(path): new.encode("utf-8")},
                           f"{title}\n\nFrom {promotion.source}, where it runs now.", parent=parent,
                           reset=existing is None)
    pr = forge.update_pr(existing.number, title=title, body=body) if existing is not None else \
        forge.open_pr(promotion.branch, base, title, body)
    forge.add_labels(pr.number, LABELS)
    head = forge.get_pr(pr.number).head_sha
    passed = verdict is not None and verdict.passed
    forge.set_status(head, "success" if passed else "failure", STATUS_CONTEXT, why)
    if merge:
        forge.merge_pr(pr.number, head, f"Merge pull request #{pr.number}: {title}")
    return Promoted(promotion, forge.get_pr(pr.number), merge, why)
