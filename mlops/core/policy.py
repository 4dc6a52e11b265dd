"""Gates and verdicts (pure): does a candidate's metrics pass the rules to be pinned in an environment?

A gate (:class:`mlops.core.spec.model.Gate`) sets absolute bounds (``min``/``max``) and/or a
``max_regression`` against the baseline, the version pinned in the environment now. Direction comes
from :data:`mlops.core.spec.model.HIGHER_IS_BETTER`: a regression is a fall of a higher-is-better
metric, or a rise of a lower-is-better one. Without a baseline, regression rules pass ("no baseline").

The gates applied are the model's ``evaluation.gates`` followed by the environment's ``policy.gates``.
A :class:`Verdict` is printed for people (:meth:`Verdict.text`) and written as JSON
(:meth:`Verdict.to_dict` / :meth:`Verdict.from_dict`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from mlops.core.spec.environment import Environment
from mlops.core.spec.model import HIGHER_IS_BETTER, Gate, ModelSpec

EPS = 1e-9  # comparisons forgive float noise this small
KIND = "Verdict"


def fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return str(value)
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def rule_text(gate: Gate) -> str:
    parts = []
    if gate.min is not None:
        parts.append(f"≥ {gate.min:g}")
    if gate.max is not None:
        parts.append(f"≤ {gate.max:g}")
    if gate.max_regression is not None:
        parts.append(f"regression ≤ {gate.max_regression:g}")
    return ", ".join(parts)


@dataclass(frozen=True)
class GateResult:
    """One gate's outcome and why."""

    name: str
    metric: str
    source: str  # "model" or "environment"
    rule: str
    passed: bool
    reason: str
    value: float | None
    baseline: float | None = None
    delta: float | None = None  # value − baseline
    min: float | None = None
    max: float | None = None
    max_regression: float | None = None


def check_gate(gate: Gate, candidate: Mapping[str, float], baseline: Mapping[str, float] | None,
               source: str = "model") -> GateResult:
    """Evaluate one gate; every failing rule is named in the reason."""
    value = candidate.get(gate.metric)
    base = baseline.get(gate.metric) if baseline is not None else None
    delta = value - base if value is not None and base is not None else None
    common: dict[str, Any] = dict(name=gate.name, metric=gate.metric, source=source, rule=rule_text(gate),
                                  value=value, baseline=base, delta=delta, min=gate.min, max=gate.max,
                                  max_regression=gate.max_regression)
    if value is None:
        return GateResult(passed=False, reason=f"{gate.metric} was not computed for the candidate", **common)
    if not math.isfinite(value):
        return GateResult(passed=False, reason=f"{gate.metric} is {value}", **common)
    failures: list[str] = []
    passes: list[str] = []
    if gate.min is not None:
        (passes if value >= gate.min - EPS else failures).append(
            f"{gate.metric} {fmt(value)} {'≥' if value >= gate.min - EPS else '<'} min {gate.min:g}")
    if gate.max is not None:
        (passes if value <= gate.max + EPS else failures).append(
            f"{gate.metric} {fmt(value)} {'≤' if value <= gate.max + EPS else '>'} max {gate.max:g}")
    if gate.max_regression is not None:
        if baseline is None:
            passes.append("no baseline")
        elif base is None or not math.isfinite(base):
            passes.append(f"the baseline has no {gate.metric}")
        else:
            regression = (base - value) if gate.metric in HIGHER_IS_BETTER else (value - base)
            allowed = regression <= gate.max_regression + EPS
            change = "no regression" if regression <= EPS else f"regressed {regression:.4f}"
            (passes if allowed else failures).append(
                f"{change} vs baseline {fmt(base)} ({'≤' if allowed else '>'} {gate.max_regression:g} allowed)")
    return GateResult(passed=not failures, reason="; ".join(failures or passes), **common)


def gates_for(model: ModelSpec, environment: Environment | None) -> list[tuple[Gate, str]]:
    """The model's gates, then the environment's policy gates, each with where it comes from."""
    gates = [(g, "model") for g in model.evaluation.gates]
    if environment is not None:
        gates += [(g, "environment") for g in environment.policy.gates]
    return gates


def judge(gates: Sequence[tuple[Gate, str]], candidate: Mapping[str, float],
          baseline: Mapping[str, float] | None) -> tuple[GateResult, ...]:
    return tuple(check_gate(g, candidate, baseline, source) for g, source in gates)


@dataclass(frozen=True)
class Subject:
    """A version and the metrics used for it: ``evaluated`` now, or taken from its ``record``."""

    version: str
    metrics: dict[str, float]
    source: str = "evaluated"
    record_metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """Whether ``candidate`` of ``model`` may be pinned in ``environment``, with a reason per gate."""

    model: str
    environment: str
    candidate: Subject
    baseline: Subject | None
    gates: tuple[GateResult, ...]
    data: str = ""  # data version (DVC md5) the metrics were computed on
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    @property
    def failed(self) -> list[GateResult]:
        return [g for g in self.gates if not g.passed]

    def to_dict(self) -> dict[str, Any]:
        def subject(s: Subject | None) -> dict[str, Any] | None:
            return None if s is None else {"version": s.version, "metrics": s.metrics, "source": s.source,
                                           "record_metrics": s.record_metrics}

        return {"apiVersion": "mlops/v1", "kind": KIND, "model": self.model, "environment": self.environment,
                "passed": self.passed, "data": self.data, "candidate": subject(self.candidate),
                "baseline": subject(self.baseline), "gates": [asdict(g) for g in self.gates],
                "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        """Read a verdict written by :meth:`to_dict` (KeyError/TypeError/ValueError when it is not one)."""
        if data.get("kind") != KIND:
            raise ValueError(f"not a verdict (kind {data.get('kind')!r}, expected {KIND!r})")

        def subject(s: Mapping[str, Any] | None) -> Subject | None:
            if s is None:
                return None
            return Subject(str(s["version"]), {str(k): float(v) for k, v in s["metrics"].items()},
                           str(s.get("source", "evaluated")),
                           {str(k): float(v) for k, v in (s.get("record_metrics") or {}).items()})

        candidate = subject(data["candidate"])
        if candidate is None:
            raise ValueError("a verdict needs a candidate")
        return cls(str(data["model"]), str(data["environment"]), candidate, subject(data.get("baseline")),
                   tuple(GateResult(**g) for g in data["gates"]), str(data.get("data", "")),
                   tuple(str(n) for n in data.get("notes", [])))

    def text(self) -> str:
        """A table for people."""
        base = self.baseline
        against = (f"baseline {base.version} ({'evaluated now' if base.source == 'evaluated' else 'from its record'})"
                   if base else "no baseline pinned")
        head = (f"{self.model} {self.candidate.version} against {self.environment} ({against}): "
                f"{'PASS' if self.passed else 'FAIL'}")
        rows = [("gate", "metric", "rule", "value", "baseline", "delta", "verdict", "reason")]
        rows += [(g.name, g.metric, g.rule, fmt(g.value), fmt(g.baseline), fmt(g.delta, signed=True),
                  "pass" if g.passed else "FAIL", g.reason) for g in self.gates]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        lines = [head] + ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1]
                          for r in rows]
        if not self.gates:
            lines.append("  (no gates apply)")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(line.rstrip() for line in lines)
