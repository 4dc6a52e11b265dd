"""Verdicts for pull requests that change what runs where (a pin) or the rules (gates, policy): no training.

For every pin a change concerns — a changed pin, every pin of an environment whose policy changed, every pin of
a model whose gates changed — the pinned version's record is judged against the environment's gates as they
are at the head (metrics from the record; the regression baseline is the version pinned there at the base),
and against the promotion order: a version pinned in an environment must be pinned in, or have been promoted
from, the environment before it. A policy change that fails a version already running is a failed verdict.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlops.core.policy import GateResult, Subject, Verdict, gates_for, judge
from mlops.core.repo import Repository
from mlops.evaluate.slicing import record_slices

ORDER_GATE = "promotion-order"
NO_ROWS = "metrics from version records: no test rows were scored, so there is nothing to resample"


def _pinned(repo: Repository | None, env: str, model: str) -> str | None:
    if repo is None or env not in repo.environments:
        return None
    pin = repo.environment(env).pin(model)
    return pin.version if pin is not None else None


def order_gate(repo: Repository, base: Repository | None, env: str, model: str, version: str) -> GateResult | None:
    """The promotion-order rule for ``model@version`` in ``env`` (None for the first environment)."""
    previous = repo.environment(env).promoted_from
    if previous is None or previous not in repo.environments:
        return None
    now, before = _pinned(repo, previous, model), _pinned(base, previous, model)
    passed = version in (now, before)
    reason = (f"{version} is pinned in {previous}" if version == now else
              f"{version} was pinned in {previous} at the base" if passed else
              f"{version} is not pinned in {previous} (there: {now or 'nothing'}); promote it through "
              f"{previous} first")
    return GateResult(name=ORDER_GATE, metric="", source="environment", rule=f"promoted from {previous}",
                      passed=passed, reason=reason, value=None)


def pin_verdict(repo: Repository, base: Repository | None, env: str, model: str) -> Verdict | None:
    version = _pinned(repo, env, model)
    record = repo.records.get(model, {}).get(version or "")
    if version is None or record is None or model not in repo.models:
        return None  # no pin, or a pin validate already refuses
    before = _pinned(base, env, model)
    baseline_record = repo.records.get(model, {}).get(before or "") if before not in (None, version) else None
    spec = repo.model(model)
    sliced = record_slices(spec, record.spec, baseline_record.spec if baseline_record else None)
    candidate = Subject(version, dict(record.spec.metrics), "record", dict(record.spec.metrics),
                        slices=sliced.candidate)
    baseline = None if baseline_record is None else Subject(
        baseline_record.spec.version, dict(baseline_record.spec.metrics), "record", dict(baseline_record.spec.metrics),
        slices=sliced.baseline)
    gates = judge(gates_for(spec, repo.environment(env)), candidate.metrics, baseline.metrics if baseline else None)
    order = order_gate(repo, base, env, model, version)
    notes = [f"pin {before or 'none'} → {version}" if before != version else f"{version} stays pinned; the rules "
             "changed"]
    return Verdict(model, env, candidate, baseline, (*gates, *sliced.gates, *([order] if order else [])),
                   record.spec.evaluation_data.md5, tuple(notes), no_interval=NO_ROWS,
                   margin=repo.environment(env).policy.confidence_margin)


def pin_verdicts(repo: Repository, base: Repository | None, environments: Sequence[str],
                 models: Sequence[str] = ()) -> list[Verdict]:
    """Verdicts for the pins that changed in ``environments`` (all pins there when the policy changed) and for
    every pin of ``models`` (whose gates changed)."""
    wanted: set[tuple[str, str]] = set()
    for env in environments:
        if env not in repo.environments:
            continue
        policy_changed = base is None or env not in base.environments or \
            base.environment(env).policy != repo.environment(env).policy
        for model in repo.environment(env).pins:
            if policy_changed or _pinned(base, env, model) != _pinned(repo, env, model):
                wanted.add((env, model))
    for model in models:
        wanted |= {(env, model) for env in repo.environments if model in repo.environment(env).pins}
    order = repo.promotion_order() or sorted(repo.environments)
    rank = {e: i for i, e in enumerate(order)}
    found = (pin_verdict(repo, base, env, model)
             for env, model in sorted(wanted, key=lambda k: (k[1], rank.get(k[0], len(rank)), k[0])))
    return [v for v in found if v is not None]
