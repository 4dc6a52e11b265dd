"""Why is this version running here? The answer from git (and the forge, when one is reachable).

For ``ENV MODEL``: the version pinned now and its record (artifact digest, data version, code commit, params,
metrics); the commit that pinned it and the pull request that commit belongs to, with its reviews; the gates
the record passes in that environment (the rules as they are now, against the version it replaced); where
the version was pinned on its way (the promotion path, in promotion order); and the environment's recent pin
history for the model, rollbacks marked. For ``MODEL@VERSION``: the same without an environment of its own.

Only what is needed is read: the model's spec, the environments, the records named, and each environment
file's first-parent history newest first, stopping as soon as the answer is found.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from mlops.adapters.forge import Forge, ForgeError, PullRequest
from mlops.adapters.scm import Scm
from mlops.core.card import Approval, card_path
from mlops.core.errors import UserError
from mlops.core.policy import GateResult
from mlops.core.repo import Repository, load_records, record_path
from mlops.core.spec.record import VersionRecord
from mlops.deploy.history import PinChange, iter_pin_changes, pin_at, version_changes, version_commits

HISTORY = 10  # recent pin changes shown per environment
GATES = "mlops/gates"  # the commit status the PR loop sets (mlops.report.report.STATUS_CONTEXT)
SEARCH = 1000  # commits that add or remove the version in an environment file, searched at most


@dataclass(frozen=True)
class Pull:
    """The pull request a pin change came from, and who reviewed it."""

    number: int
    title: str
    url: str
    author: str
    merged: bool
    reviews: tuple[tuple[str, str, str], ...]  # (user, state, submitted)
    gates: tuple[str, str] | None = None  # the `mlops/gates` status on its head: (state, description)

    @property
    def approved_by(self) -> list[str]:
        latest: dict[str, str] = {}
        for user, state, _ in self.reviews:  # a reviewer's last word counts
            if state != "COMMENTED":
                latest[user] = state
        return sorted(u for u, s in latest.items() if s == "APPROVED")

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "title": self.title, "url": self.url, "author": self.author,
                "merged": self.merged, "approved_by": self.approved_by,
                "gates": {"state": self.gates[0], "description": self.gates[1]} if self.gates else None,
                "reviews": [{"user": u, "state": s, "submitted": t} for u, s, t in self.reviews]}


@dataclass(frozen=True)
class PinEvent:
    """One commit that changed a pin: ``before`` → ``after`` in ``environment``."""

    environment: str
    before: str | None
    after: str | None
    commit: str
    date: str
    author: str
    subject: str
    rollback: bool
    pull: Pull | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"environment": self.environment, "before": self.before, "after": self.after, "commit": self.commit,
                "date": self.date, "author": self.author, "subject": self.subject, "rollback": self.rollback,
                "pull_request": self.pull.to_dict() if self.pull else None}


@dataclass(frozen=True)
class Deploy:
    """One deployment to the environment: when, which commit, the model's version there, how it ended."""

    date: str
    commit: str
    version: str | None
    state: str


@dataclass
class Explanation:
    model: str
    version: str
    environment: str | None  # None: MODEL@VERSION asked directly
    record: VersionRecord
    record_file: str
    pinned_by: PinEvent | None = None
    gates: tuple[GateResult, ...] = ()
    baseline: str | None = None  # the version the gates compared against (the one it replaced)
    path: list[PinEvent] = field(default_factory=list)  # where it was pinned, in promotion order
    pinned_in: list[str] = field(default_factory=list)  # where it runs now
    history: list[PinEvent] = field(default_factory=list)  # the environment's recent pin changes
    notes: list[str] = field(default_factory=list)
    card: str | None = None  # the model card committed with the record, when there is one
    deploys: list[Deploy] = field(default_factory=list)  # the environment's recent deployments (the forge's)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    def to_dict(self) -> dict[str, Any]:
        r = self.record
        return {
            "model": self.model, "version": self.version, "environment": self.environment,
            "record": {"file": self.record_file, "created": r.created, "parent": r.parent,
                       "artifact": {"digest": r.artifact.digest, "uri": r.artifact.uri, "format": r.artifact.format},
                       "data": {"path": r.data.path, "md5": r.data.md5, "rows": r.data.rows},
                       "code": {"commit": r.code.commit, "dirty": r.code.dirty,
                                "model_py_sha256": r.code.model_py_sha256},
                       "params": r.params, "metrics": r.metrics, "seed": r.seed,
                       "software": {"python": r.environment.python, "torch": r.environment.torch,
                                    "mlops": r.environment.mlops, "device": r.environment.device}},
            "pinned_by": self.pinned_by.to_dict() if self.pinned_by else None,
            "gates": {"passed": self.passed, "baseline": self.baseline,
                      "results": [{"name": g.name, "metric": g.metric, "rule": g.rule, "passed": g.passed,
                                   "reason": g.reason} for g in self.gates]},
            "promotion_path": [e.to_dict() for e in self.path], "pinned_in": self.pinned_in,
            "history": [e.to_dict() for e in self.history], "notes": self.notes, "card": self.card,
            "deploys": [d.__dict__ for d in self.deploys],
        }


class _Pulls:
    """Pull requests per commit and their reviews, each asked of the forge once."""

    def __init__(self, forge: Forge | None, notes: list[str]) -> None:
        self.forge, self.notes = forge, notes
        self.cache: dict[str, Pull | None] = {}

    def of(self, sha: str) -> Pull | None:
        if self.forge is None:
            return None
        if sha not in self.cache:
            self.cache[sha] = self._read(sha)
        return self.cache[sha]

    def _read(self, sha: str) -> Pull | None:
        assert self.forge is not None
        try:
            pulls = self.forge.prs_for_commit(sha)
            pr: PullRequest | None = next((p for p in pulls if p.merged), pulls[0] if pulls else None)
            if pr is None:
                return None
            reviews = tuple((r.user, r.state, r.submitted) for r in self.forge.reviews(pr.number))
            gates = self.forge.status(pr.head_sha, GATES) if pr.head_sha else None
        except ForgeError as exc:  # the forge is a bonus; git alone still answers
            self.notes.append(f"the forge did not answer ({exc}); pull requests left out")
            self.forge = None
            return None
        return Pull(pr.number, pr.title, pr.url, pr.author, pr.merged, reviews, gates)


def _deploys(scm: Scm, forge: Forge, environment: str, model: str, notes: list[str]) -> list[Deploy]:
    try:
        found = forge.deployments(environment, HISTORY)
    except ForgeError as exc:
        notes.append(f"the forge did not list deployments ({exc})")
        return []
    return [Deploy(d.created, d.ref, pin_at(scm, d.ref, environment, model), d.state or "no status") for d in found]


def _event(change: PinChange, pulls: _Pulls) -> PinEvent:
    c = change.commit
    return PinEvent(change.environment, change.before, change.after, c.sha, c.committed, c.author.name, c.subject,
                    change.is_rollback, pulls.of(c.sha))


def explain(repo: Repository, scm: Scm | None, forge: Forge | None, model: str, *, environment: str | None = None,
            version: str | None = None) -> Explanation:
    """Explain the version pinned in ``environment`` (or ``version`` itself) of ``model``."""
    repo.require_model(model)  # an unknown model is refused here, in the shared wording
    notes: list[str] = []
    if environment is not None:
        env = repo.require_environment(environment).spec
        pin = env.pin(model)
        if pin is None:
            pinned = [e for e in repo.promotion_order() or sorted(repo.environments)
                      if repo.environment(e).pin(model) is not None]
            where = f"pinned in {', '.join(pinned)}" if pinned else "pinned nowhere"
            raise UserError(repo.require_environment(environment).doc.problem(
                ("pins",), f"{model} is not pinned in {environment} ({where}); expected an environment that pins "
                           f"it, or `mlops explain {model}@VERSION`"))
        version = pin.version
    assert version is not None
    load_records(repo, model, {version})
    if version not in repo.records.get(model, {}):  # the error lists the versions there are: read their names
        load_records(repo, model, {p.stem for p in (repo.root / "models" / model / "versions").glob("*.yaml")})
    record = repo.require_record((model, version)).spec
    out = Explanation(model, version, environment, record, record_path(model, version), notes=notes)
    out.card = card_path(model, version) if (repo.root / card_path(model, version)).is_file() else None
    order = repo.promotion_order() or sorted(repo.environments)
    out.pinned_in = [e for e in order if (p := repo.environment(e).pin(model)) is not None and p.version == version]
    if scm is None:
        notes.append("not a git repository: no pin history, pull requests or reviews")
        return out
    pulls = _Pulls(forge, notes)
    with ThreadPoolExecutor(1) as pool:  # git's pickaxe walk runs while the recent history is read
        walk = pool.submit(version_commits, scm, order, version, limit=SEARCH)
        if environment is not None:  # the newest changes of the environment file, whichever version they concern
            changes = iter_pin_changes(scm, environment, model, limit=HISTORY * 5)
            out.history = [_event(c, pulls) for c in islice(changes, HISTORY)]
        commits = walk.result()
    for env_name, found in version_changes(scm, order, model, version, commits=commits).items():
        pinned_here = [c for c in found if c.after == version]  # newest first
        if not pinned_here:
            continue
        arrival = next((c for c in pinned_here if not c.is_rollback), pinned_here[0])  # how it got here
        out.path.append(_event(arrival, pulls))
        if env_name == environment:
            out.pinned_by = _event(pinned_here[0], pulls)  # why it runs now
    if environment is not None and pulls.forge is not None:
        out.deploys = _deploys(scm, pulls.forge, environment, model, notes)
    if environment is not None:
        from mlops.explain.cards import record_gates

        out.gates, base = record_gates(repo, environment, record, out.pinned_by.before if out.pinned_by else None)
        out.baseline = base.version if base is not None else None
        if out.pinned_by is None:
            notes.append(f"no commit in the last {SEARCH} changes of environments/{environment}.yaml pinned "
                         f"{version}; the pin is older, or the history is shallow (fetch-depth: 0)")
    return out


def approvals(x: Explanation) -> list[Approval]:
    """How the version reached each environment, for its model card."""
    return [Approval(e.environment, e.date.replace("T", " ")[:16] + " UTC", e.pull.number if e.pull else None,
                     tuple(e.pull.approved_by) if e.pull else ()) for e in x.path]
