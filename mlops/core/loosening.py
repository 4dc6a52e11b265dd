"""Which changes loosen a rule: what a pull request may not do without the governance team's approval.

A rule is looser when fewer versions would fail it or less review stands between a version and an environment:
a gate removed, a minimum lowered (or dropped), a maximum raised (or dropped), a larger allowed regression,
a gate judged by its point value instead of its pessimistic bound, a slice gate that judges less (a lower
per-slice minimum, a larger gap, more rows needed before a slice counts, fewer slices); in an environment's
policy auto-merge switched on (of promotions or of rollbacks), a smaller confidence margin; in its progressive
rollout a higher error ratio or p99 latency tolerated, or more failed measurements. Tightening any of these
needs nothing extra; adding a gate or an environment is never loosening. Pure: both sides are loaded specs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from mlops.core.errors import Problem
from mlops.core.repo import ENVIRONMENTS, MODELS, Repository
from mlops.core.spec.model import Gate, SliceGate
from mlops.core.yamlpos import Document

Loc = tuple[str | int, ...]


def _fmt(value: Any) -> str:
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else f"{value:g}" \
        if isinstance(value, float) else str(value)


def _gates(doc: Document, where: str, base: Sequence[Gate], head: Sequence[Gate], loc: Loc) -> Iterator[Problem]:
    now = {g.name: (i, g) for i, g in enumerate(head)}
    for old in base:
        if old.name not in now:
            yield doc.problem(loc, f"loosens {where}: gate {old.name!r} ({old.metric}) removed")
            continue
        i, new = now[old.name]
        at = (*loc, i)
        if new.metric != old.metric:
            yield doc.problem((*at, "metric"), f"loosens {where}: gate {old.name!r} now checks {new.metric} "
                                               f"instead of {old.metric}")
            continue
        for field, looser in (("min", lambda a, b: b is None or b < a), ("max", lambda a, b: b is None or b > a),
                              ("max_regression", lambda a, b: b is None or b > a)):
            before, after = getattr(old, field), getattr(new, field)
            if before is not None and looser(before, after):
                yield doc.problem((*at, field), f"loosens {where}: gate {old.name!r} {field} {_fmt(before)} → "
                                                f"{_fmt(after)}")
        if old.judge == "bound" and new.judge == "point":
            yield doc.problem((*at, "judge"), f"loosens {where}: gate {old.name!r} judged by its point value "
                                              "instead of its 95 % bound")


def _slice_gates(doc: Document, where: str, base: Sequence[SliceGate], head: Sequence[SliceGate]) -> Iterator[Problem]:
    now = {g.name: (i, g) for i, g in enumerate(head)}
    for old in base:
        if old.name not in now:
            yield doc.problem(("evaluation", "slice_gates"), f"loosens {where}: slice gate {old.name!r} removed")
            continue
        i, new = now[old.name]
        at: Loc = ("evaluation", "slice_gates", i)
        for field, higher in (("min_per_slice", False), ("max_per_slice", True), ("max_gap", True),
                              ("min_rows", True)):  # more rows needed: more slices go unjudged
            before, after = getattr(old, field), getattr(new, field)
            if before is not None and (after is None or ((after > before) == higher and after != before)):
                yield doc.problem((*at, field), f"loosens {where}: slice gate {old.name!r} {field} {_fmt(before)} → "
                                                f"{_fmt(after)}")
        fewer = bool(new.slices) and (not old.slices or not set(old.slices) <= set(new.slices))
        if old.metric != new.metric or (old.judge == "bound" and new.judge == "point") or fewer:
            yield doc.problem(at, f"loosens {where}: slice gate {old.name!r} judges less (metric, slices or bound)")


def _switches(doc: Document, where: str, pairs: Sequence[tuple[Loc, str, Any, Any, bool]]) -> Iterator[Problem]:
    """``(loc, name, before, after, higher_is_looser)``: a flag switched on or a number moved the loose way."""
    for loc, name, before, after, higher in pairs:
        if before is None or after is None or before == after:
            continue
        if (after > before) == higher:
            yield doc.problem(loc, f"loosens {where}: {name} {_fmt(before)} → {_fmt(after)}")


def loosenings(base: Repository, head: Repository) -> list[Problem]:
    """Every rule ``head`` loosens relative to ``base``, at its place in ``head``'s files."""
    found: list[Problem] = []
    for name, loaded in sorted(head.models.items()):
        old = base.models.get(name)
        if old is not None:
            found += _gates(loaded.doc, f"{MODELS}/{name} gates", old.spec.evaluation.gates,
                            loaded.spec.evaluation.gates, ("evaluation", "gates"))
            found += _slice_gates(loaded.doc, f"{MODELS}/{name} gates", old.spec.evaluation.slice_gates,
                                  loaded.spec.evaluation.slice_gates)
    for name, env in sorted(head.environments.items()):
        old_env = base.environments.get(name)
        if old_env is None:
            continue
        where = f"{ENVIRONMENTS}/{name} policy"
        before, after = old_env.spec.policy, env.spec.policy
        found += _gates(env.doc, where, before.gates, after.gates, ("policy", "gates"))
        pairs: list[tuple[Loc, str, Any, Any, bool]] = [
            (("policy", "auto_merge"), "auto_merge", before.auto_merge, after.auto_merge, True),
            (("policy", "auto_merge_rollback"), "auto_merge_rollback", before.auto_merge_rollback,
             after.auto_merge_rollback, True),
            (("policy", "confidence_margin"), "confidence_margin", before.confidence_margin,
             after.confidence_margin, False)]
        was, now = old_env.spec.delivery.rollout, env.spec.delivery.rollout
        if was is not None and now is not None:
            pairs += [(("delivery", "rollout", field), f"rollout {field}", getattr(was, field), getattr(now, field),
                       True) for field in ("max_error_ratio", "max_p99_ms", "failure_limit")]
        elif was is not None:
            pairs.append((("delivery",), "progressive rollout (delivery.rollout)", True, False, False))
        found += _switches(env.doc, f"{ENVIRONMENTS}/{name}", pairs)
    return sorted(set(found))
