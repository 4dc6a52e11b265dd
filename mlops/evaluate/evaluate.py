"""Evaluate a candidate version on the held-out test split and judge it against an environment's gates.

The candidate's metrics are recomputed from its artifact (loaded only through its version record,
digest verified) on the current test split; a difference from the metrics in the record beyond
float tolerance is noted. The baseline — the version pinned in the environment — is evaluated on
the same data, so the comparison is like for like; when its artifact cannot be had, its record's
metrics stand in and the verdict says so. Gates: the model's, then the environment's policy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from mlops.core.errors import Problem, UserError
from mlops.core.policy import Subject, Verdict, gates_for, judge
from mlops.core.repo import Repository
from mlops.core.spec.record import VersionRecord

REL_TOL, ABS_TOL = 1e-5, 1e-6  # recomputed vs recorded metrics: float noise across devices is expected


class Unavailable(Exception):
    """A version cannot be evaluated on the current data (artifact not fetchable, inputs changed)."""


class Scorer(Protocol):
    """Computes metrics of a version on the current held-out test split."""

    def data_version(self) -> str:
        """The DVC md5 of the data the metrics are computed on."""
        ...

    def score(self, record: VersionRecord, metrics: Sequence[str]) -> dict[str, float]:
        """Raises :class:`Unavailable` when the version cannot be evaluated here (a candidate must be)."""
        ...


@dataclass(frozen=True)
class Request:
    model: str
    environment: str
    candidate: str | None = None


def pick_candidate(repo: Repository, model: str, version: str | None) -> VersionRecord:
    if version is not None:
        return repo.require_record((model, version)).spec
    record = repo.newest_record(model)
    if record is None:
        raise UserError(Problem(f"models/{model}/versions", 1, 1, f"model {model!r} has no version records; "
                                                                  f"train one first (`mlops train {model}`)"))
    return record


def baseline_record(repo: Repository, model: str, environment: str) -> VersionRecord | None:
    pin = repo.environment(environment).pin(model)
    if pin is None:
        return None
    record = repo.records.get(model, {}).get(pin.version)
    if record is None:
        loaded = repo.environments[environment]
        line, col = loaded.doc.where(("pins", model))
        raise UserError(Problem(loaded.doc.path, line, col, f"{model} is pinned to {pin.version}, which has no "
                                                            f"version record in models/{model}/versions/"))
    return record.spec


def _differences(computed: Mapping[str, float], recorded: Mapping[str, float]) -> list[str]:
    return [f"{name} {computed[name]:.6g} (record {recorded[name]:.6g})" for name in sorted(computed)
            if name in recorded and not math.isclose(computed[name], recorded[name], rel_tol=REL_TOL,
                                                     abs_tol=ABS_TOL)]


def evaluate(repo: Repository, request: Request, scorer: Scorer) -> Verdict:
    """The verdict on ``request.candidate`` (default: the newest record) for ``request.environment``."""
    spec = repo.require_model(request.model).spec
    env = repo.require_environment(request.environment).spec
    gates = gates_for(spec, env)
    names = sorted(set(spec.evaluation.metrics) | {g.metric for g, _ in gates})
    candidate = pick_candidate(repo, request.model, request.candidate)
    base = baseline_record(repo, request.model, request.environment)
    current = scorer.data_version()
    notes: list[str] = []

    try:
        cand_metrics = scorer.score(candidate, names)
    except Unavailable as exc:
        raise UserError(Problem(f"models/{request.model}/versions/{candidate.version}.yaml", 1, 1,
                                f"cannot evaluate the candidate: {exc}")) from None
    diffs = _differences(cand_metrics, candidate.metrics)
    if current and candidate.evaluation_data.md5 != current:
        notes.append(f"the data changed since {candidate.version} was recorded (md5 {candidate.evaluation_data.md5} "
                     f"→ {current}); its metrics were recomputed on the current test split")
    elif diffs:
        notes.append(f"recomputed metrics of {candidate.version} differ from its record on the same data: "
                     + ", ".join(diffs))

    baseline: Subject | None = None
    if base is not None:
        if base.version == candidate.version:
            baseline = Subject(base.version, dict(cand_metrics), "evaluated", dict(base.metrics))
            notes.append(f"the candidate {candidate.version} is the version pinned in {request.environment}")
        else:
            try:
                baseline = Subject(base.version, scorer.score(base, names), "evaluated", dict(base.metrics))
            except Unavailable as exc:
                baseline = Subject(base.version, dict(base.metrics), "record", dict(base.metrics))
                notes.append(f"baseline {base.version} could not be evaluated on the current data ({exc}); "
                             f"its record's metrics (data md5 {base.evaluation_data.md5}) are used instead")
    candidate_subject = Subject(candidate.version, cand_metrics, "evaluated", dict(candidate.metrics))
    return Verdict(request.model, request.environment, candidate_subject, baseline,
                   judge(gates, cand_metrics, baseline.metrics if baseline else None), current, tuple(notes))
