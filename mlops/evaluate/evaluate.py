"""Evaluate a candidate version on the held-out test split and judge it against an environment's gates.

The candidate's metrics are recomputed from its artifact (loaded only through its version record,
digest verified) on the current test split; a difference from the metrics in the record beyond
float tolerance is noted. The baseline — the version pinned in the environment — is evaluated on
the same data, so the comparison is like for like; when its artifact cannot be had, its record's
metrics stand in and the verdict says so. Gates: the model's, then the environment's policy.

When the scorer gives the per-row outputs (:class:`Scores` with ``rows``), every metric of both
versions and every Δ gets a 95 % interval from one paired bootstrap over the same test rows
(:func:`mlops.core.confidence.paired_bootstrap`, seeded): gates with ``judge: bound`` decide on them,
and the verdict carries them, with the environment's ``confidence_margin``, for auto-merge.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from mlops.core.confidence import Bootstrap, Intervals, Rows, paired_bootstrap
from mlops.core.errors import Problem, UserError
from mlops.core.policy import Subject, Verdict, gates_for, judge
from mlops.core.repo import Repository
from mlops.core.spec.record import VersionRecord
from mlops.evaluate.slicing import slice_verdict

if TYPE_CHECKING:
    import numpy.typing as npt

REL_TOL, ABS_TOL = 1e-5, 1e-6  # recomputed vs recorded metrics: float noise across devices is expected


class Unavailable(Exception):
    """A version cannot be evaluated on the current data (artifact not fetchable, inputs changed)."""


@dataclass(frozen=True)
class Scores:
    """A version's metrics on the test split and the per-row outputs and labels they were computed from
    (``rows``; None when the scorer has none: then there are no intervals), and which rows each slice of
    ``evaluation.slices`` holds (``masks``: slice → bool per row; None: the records' slice metrics are used)."""

    metrics: dict[str, float]
    rows: Rows | None = field(default=None, compare=False)
    masks: Mapping[str, npt.NDArray[Any]] | None = field(default=None, compare=False)


class Scorer(Protocol):
    """Computes metrics of a version on the current held-out test split."""

    def data_version(self) -> str:
        """The DVC md5 of the data the metrics are computed on."""
        ...

    def score(self, record: VersionRecord, metrics: Sequence[str]) -> Scores | Mapping[str, float]:
        """:class:`Scores` with rows make intervals possible; a plain mapping of metrics gives none. Raises
        :class:`Unavailable` when the version cannot be evaluated here (a candidate must be)."""
        ...


def _scored(scorer: Scorer, record: VersionRecord, metrics: Sequence[str]) -> Scores:
    found = scorer.score(record, metrics)
    return found if isinstance(found, Scores) else Scores(dict(found))


def intervals(names: Sequence[str], candidate: Scores, baseline: Scores | None,
              config: Bootstrap) -> tuple[Intervals, list[str]]:
    """The paired bootstrap's intervals for ``candidate`` and ``baseline`` (an evaluated one), and notes on what
    has none and why."""
    if candidate.rows is None:
        return Intervals(None, reason="the scorer gave no per-row outputs to resample"), []
    base_rows = baseline.rows if baseline is not None else None
    found = paired_bootstrap(names, candidate.rows, base_rows, config)
    notes = [f"no 95 % interval for {m}: {why}" for m, why in sorted(found.missing.items())]
    if found.bootstrap is not None and baseline is not None and base_rows is None:
        notes.append("the baseline's scorer gave no per-row outputs: no paired Δ intervals")
    elif found.bootstrap is not None and found.reason:
        notes.append(found.reason)
    return found, notes


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


def evaluate(repo: Repository, request: Request, scorer: Scorer, bootstrap: Bootstrap | None = None) -> Verdict:
    """The verdict on ``request.candidate`` (default: the newest record) for ``request.environment``;
    ``bootstrap`` sets the intervals' replicates, seed and level (default: 1,000, seed 0, 95 %)."""
    spec = repo.require_model(request.model).spec
    env = repo.require_environment(request.environment).spec
    gates = gates_for(spec, env)
    names = sorted(set(spec.evaluation.metrics) | {g.metric for g, _ in gates})
    candidate = pick_candidate(repo, request.model, request.candidate)
    base = baseline_record(repo, request.model, request.environment)
    current = scorer.data_version()
    notes: list[str] = []

    try:
        cand = _scored(scorer, candidate, names)
    except Unavailable as exc:
        raise UserError(Problem(f"models/{request.model}/versions/{candidate.version}.yaml", 1, 1,
                                f"cannot evaluate the candidate: {exc}")) from None
    cand_metrics = cand.metrics
    diffs = _differences(cand_metrics, candidate.metrics)
    if current and candidate.evaluation_data.md5 != current:
        notes.append(f"the data changed since {candidate.version} was recorded (md5 {candidate.evaluation_data.md5} "
                     f"→ {current}); its metrics were recomputed on the current test split")
    elif diffs:
        notes.append(f"recomputed metrics of {candidate.version} differ from its record on the same data: "
                     + ", ".join(diffs))

    scored: Scores | None = None  # the baseline, evaluated on the same rows
    if base is not None:
        if base.version == candidate.version:
            scored = cand
            notes.append(f"the candidate {candidate.version} is the version pinned in {request.environment}")
        else:
            try:
                scored = _scored(scorer, base, names)
            except Unavailable as exc:
                notes.append(f"baseline {base.version} could not be evaluated on the current data ({exc}); "
                             f"its record's metrics (data md5 {base.evaluation_data.md5}) are used instead")
    config = bootstrap or Bootstrap()
    found, more = intervals(names, cand, scored, config)
    sliced = slice_verdict(spec, candidate, cand.rows, cand.masks, base, scored.rows if scored else None, config)
    baseline: Subject | None = None
    if base is not None:
        baseline = (Subject(base.version, dict(base.metrics), "record", dict(base.metrics), slices=sliced.baseline)
                    if scored is None else
                    Subject(base.version, dict(scored.metrics), "evaluated", dict(base.metrics), found.baseline,
                            sliced.baseline))
    candidate_subject = Subject(candidate.version, cand_metrics, "evaluated", dict(candidate.metrics),
                                found.candidate, sliced.candidate)
    gates_judged = judge(gates, cand_metrics, baseline.metrics if baseline else None, intervals=found.candidate,
                         delta_intervals=found.delta)
    return Verdict(request.model, request.environment, candidate_subject, baseline, gates_judged + sliced.gates,
                   current, tuple(notes + more + list(sliced.notes)), found.delta, found.bootstrap,
                   found.reason if found.bootstrap is None else "", env.policy.confidence_margin)
