"""What a pull request asks of the loop: which models changed, which need training, which rules changed.

A model is *changed* when anything under ``models/<name>/`` changed between the merge base and the head, or
when ``data.dvc`` changed the model's data file (every model when DVC's manifests are not at hand to tell which
file changed). A changed model is *trained* only when a
record at the head states exactly the head's inputs (:mod:`mlops.core.provenance`) **and** the commit that
added that record is one the forge attests the framework's identity made — a record anyone wrote by hand, or
one trained from an older ``model.py`` or other params, is not evidence, so the model is trained again.

Environments whose pins or policy changed, and models whose gates changed, are listed too: those pull requests
get verdicts without training (:mod:`mlops.evaluate.pins`).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlops.adapters.forge import Event, Forge
from mlops.adapters.scm import Scm
from mlops.core.dvcmeta import DATA_POINTER, changed_files, data_version, data_version_of
from mlops.core.errors import Problem, UsageError, UserError
from mlops.core.provenance import input_differences
from mlops.core.repo import ENVIRONMENTS, MODELS, Repository, record_path


@dataclass(frozen=True)
class ModelPlan:
    model: str
    train: bool
    record: str | None  # the version whose record is the evidence (when not training)
    reason: str


@dataclass(frozen=True)
class Plan:
    base: str  # the merge base the changes are measured from
    head: str
    models: list[ModelPlan] = field(default_factory=list)
    environments: list[str] = field(default_factory=list)  # pins or policy changed
    gates: list[str] = field(default_factory=list)  # models whose evaluation section changed

    @property
    def changed(self) -> list[str]:
        return [m.model for m in self.models]

    @property
    def train(self) -> list[str]:
        return [m.model for m in self.models if m.train]

    @property
    def rules_changed(self) -> bool:
        return bool(self.environments or self.gates)

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base, "head": self.head, "changed": self.changed, "train": self.train,
                "environments": self.environments, "gates": self.gates, "models": [asdict(m) for m in self.models]}


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _added_by(scm: Scm, path: str, head: str) -> str | None:
    """The commit that added ``path`` (records are written once: the oldest commit touching it)."""
    history = scm.log([path], rev=head)
    return history[-1].sha if history else None


def model_plan(repo: Repository, scm: Scm, forge: Forge, model: str, head: str, data_md5: str) -> ModelPlan:
    loaded = repo.models.get(model)
    if loaded is None:
        return ModelPlan(model, False, None, "the spec does not load (validation reports why)")
    spec = loaded.spec
    code = repo.root / MODELS / model / spec.code
    model_py = _sha256(code.read_bytes()) if code.is_file() else ""
    candidates = sorted(repo.records.get(model, {}).values(), key=lambda r: (r.spec.created, r.spec.version),
                        reverse=True)
    unattested: list[str] = []
    for loaded_record in candidates:
        record = loaded_record.spec
        if input_differences(record, spec, model_py, data_md5):
            continue
        commit = _added_by(scm, record_path(model, record.version), head)
        if commit is not None and forge.is_bot_commit(commit):
            return ModelPlan(model, False, record.version, f"{record.version} was trained from these inputs and "
                                                           f"committed by {forge.identity} ({commit[:12]})")
        unattested.append(record.version)
    if unattested:
        return ModelPlan(model, True, None, f"record(s) {', '.join(unattested)} state these inputs but were not "
                                            f"committed by {forge.identity}; training again")
    latest = candidates[0].spec if candidates else None
    if latest is None:
        return ModelPlan(model, True, None, "no version record yet")
    differ = input_differences(latest, spec, model_py, data_md5)
    return ModelPlan(model, True, None, f"the newest record {latest.version} was trained from other inputs "
                                        f"({', '.join(differ)})")


def plan(repo: Repository, scm: Scm, forge: Forge, base: str) -> Plan:
    """The plan for the checkout (the head) against ``base`` (a branch or commit git knows)."""
    head = scm.require("HEAD")
    since = scm.merge_base(scm.require(base), head) or scm.require(base)
    paths = [c.path for c in scm.changed(since, head)]
    touched = {p.split("/")[1] for p in paths if p.startswith(f"{MODELS}/") and p.count("/") >= 2}
    if DATA_POINTER in paths:
        touched |= _data_touched(repo, scm, since, head)
    data_md5 = data_version(repo.root, required=False)
    models = [model_plan(repo, scm, forge, m, head, data_md5) for m in sorted(touched & set(repo.model_dirs))]
    envs = sorted({p.split("/")[1].removesuffix(".yaml") for p in paths
                   if p.startswith(f"{ENVIRONMENTS}/") and p.count("/") == 1 and p.endswith(".yaml")})
    gates = sorted(m for m in touched & set(repo.models) if _gates_changed(scm, repo, m, since))
    return Plan(since, head, models, [e for e in envs if e in repo.environments], gates)


def _data_touched(repo: Repository, scm: Scm, since: str, head: str) -> set[str]:
    """Models whose data file differs between the two data versions (every model when the manifests are not at
    hand, or a model's spec is invalid)."""
    texts = [(scm.read(rev, DATA_POINTER) or b"").decode("utf-8", "replace") for rev in (since, head)]
    files = changed_files(repo.root, data_version_of(texts[0]), data_version_of(texts[1]))
    if files is None:
        return set(repo.model_dirs)
    return {m for m in repo.model_dirs if m not in repo.models or repo.models[m].spec.data.path in files}


def _gates_changed(scm: Scm, repo: Repository, model: str, since: str) -> bool:
    """Whether the model's ``evaluation`` section differs from the base's (the rules, not the code)."""
    from mlops.core import yamlpos

    before = scm.read(since, f"{MODELS}/{model}/model.yaml")
    if before is None:
        return False
    try:
        old = yamlpos.parse(before.decode("utf-8", "replace"), "base").data
    except UserError:  # an unreadable base spec: treat as changed; the verdicts say what applies now
        return True
    now = repo.models[model].doc.data
    return bool((old or {}).get("evaluation") != (now or {}).get("evaluation"))


def repository_at(scm: Scm, rev: str, dest: Path) -> Repository:
    """The specs and environments of revision ``rev``, loaded from an export under ``dest`` (problems kept)."""
    from mlops.core.repo import load_repository

    return load_repository(scm.export(scm.require(rev), [MODELS, ENVIRONMENTS], dest))


@dataclass(frozen=True)
class PullTarget:
    """The pull request a run works on, as the forge knows it (never as the PR's own files say)."""

    number: int
    head_sha: str
    head_ref: str
    base_sha: str
    same_repo: bool


def find_pull(forge: Forge, event: Event | None, pr: int | None, head_sha: str) -> PullTarget:
    """The open pull request ``pr`` (else the event's, else the one open from the event's branch) at ``head_sha``."""
    number = pr if pr is not None else event.pr if event is not None else None
    if number is None and event is not None and event.branch:
        found = forge.find_open_pr(f"{event.head_owner}:{event.branch}" if event.head_owner else event.branch)
        number = found.number if found is not None else None
    if number is None:
        raise UsageError(f"no open pull request for {head_sha[:12]}; pass --pr N")
    pull = forge.get_pr(number)
    if pull.state != "open":
        raise UserError(Problem("forge", 1, 1, f"pull request #{number} is {pull.state}; nothing to do"))
    if pull.head_sha != head_sha:
        raise UserError(Problem("forge", 1, 1, f"pull request #{number}'s head is {pull.head_sha[:12]}, not "
                                               f"{head_sha[:12]}; the run for the newer commit handles it"))
    return PullTarget(number, pull.head_sha, pull.head, pull.base_sha, not pull.from_fork)
