"""Gates and verdicts (pure): does a candidate's metrics pass the rules to be pinned in an environment?

A gate (:class:`mlops.core.spec.model.Gate`) sets absolute bounds (``min``/``max``) and/or a
``max_regression`` against the baseline, the version pinned in the environment now. Direction comes
from :data:`mlops.core.spec.model.HIGHER_IS_BETTER`: a regression is a fall of a higher-is-better
metric, or a rise of a lower-is-better one. Without a baseline, regression rules pass ("no baseline").

The gates applied are the model's ``evaluation.gates`` followed by the environment's ``policy.gates``.
A :class:`Verdict` is printed for people (:meth:`Verdict.text`) and written as JSON
(:meth:`Verdict.to_dict` / :meth:`Verdict.from_dict`; files written before intervals existed still read).

Confidence (:mod:`mlops.core.confidence`): when the candidate and the baseline were scored on the test
rows, every metric and Δ has a 95 % interval. A gate with ``judge: bound`` decides on the pessimistic
end (low end against ``min``, high end against ``max``, the worse end of Δ against ``max_regression``);
``judge: point`` decides on the measured value, as before. Whatever a gate judges,
:meth:`Verdict.confidence` (:func:`mlops.core.confidence.confidence`) says whether every gate's
pessimistic bound clears its rule by a margin — the test auto-merge applies with the environment's
``policy.confidence_margin``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from mlops.core.confidence import EPS, Bootstrap, Confidence, Interval, clearance, confidence, confident, regression
from mlops.core.spec.environment import Environment
from mlops.core.spec.model import Gate, ModelSpec
from mlops.core.spec.record import SliceMetrics

__all__ = ["EPS", "KIND", "Confidence", "GateResult", "Subject", "Verdict", "check_gate", "clearance", "confidence",
           "confident", "fmt", "fmt_interval", "gates_for", "judge", "rule_text"]
KIND = "Verdict"


def fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return str(value)
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def fmt_interval(low: float | None, high: float | None, signed: bool = False) -> str:
    """`` [low, high]`` (leading space), or nothing when there is no interval."""
    return "" if low is None or high is None else f" [{fmt(low, signed)}, {fmt(high, signed)}]"


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
    judged: str = "point"  # what decided: "point" (the value) or "bound" (the pessimistic end of the interval)
    value_low: float | None = None  # 95 % interval of value
    value_high: float | None = None
    delta_low: float | None = None  # 95 % interval of delta (paired bootstrap)
    delta_high: float | None = None
    worst_slice: str | None = None  # a slice gate: the slice that decided (the worst one)


def check_gate(gate: Gate, candidate: Mapping[str, float], baseline: Mapping[str, float] | None,
               source: str = "model", *, intervals: Mapping[str, Interval] | None = None,
               delta_intervals: Mapping[str, Interval] | None = None) -> GateResult:
    """Evaluate one gate; every failing rule is named in the reason. ``intervals`` (candidate) and
    ``delta_intervals`` (candidate − baseline) are the metrics' 95 % intervals, when there are any."""
    value = candidate.get(gate.metric)
    base = baseline.get(gate.metric) if baseline is not None else None
    delta = value - base if value is not None and base is not None else None
    iv = (intervals or {}).get(gate.metric)
    div = (delta_intervals or {}).get(gate.metric) if delta is not None else None
    comparable = base is not None and math.isfinite(base)
    lacking = [what for what, needed, have in (
        (f"no 95 % interval of {gate.metric}", gate.min is not None or gate.max is not None, iv),
        (f"no 95 % interval of Δ {gate.metric}", gate.max_regression is not None and comparable, div)) if needed
        and have is None]
    bound = gate.judge == "bound" and not lacking
    common: dict[str, Any] = dict(name=gate.name, metric=gate.metric, source=source, rule=rule_text(gate),
                                  value=value, baseline=base, delta=delta, min=gate.min, max=gate.max,
                                  max_regression=gate.max_regression, judged="bound" if bound else "point",
                                  value_low=iv.low if iv else None, value_high=iv.high if iv else None,
                                  delta_low=div.low if div else None, delta_high=div.high if div else None)
    if value is None:
        return GateResult(passed=False, reason=f"{gate.metric} was not computed for the candidate", **common)
    if not math.isfinite(value):
        return GateResult(passed=False, reason=f"{gate.metric} is {value}", **common)
    failures: list[str] = []
    passes: list[str] = []
    if gate.min is not None:
        low = iv.low if bound and iv is not None else value
        what = f"{gate.metric} 95 % lower bound {fmt(low)}" if bound else f"{gate.metric} {fmt(value)}"
        (passes if low >= gate.min - EPS else failures).append(
            f"{what} {'≥' if low >= gate.min - EPS else '<'} min {gate.min:g}")
    if gate.max is not None:
        high = iv.high if bound and iv is not None else value
        what = f"{gate.metric} 95 % upper bound {fmt(high)}" if bound else f"{gate.metric} {fmt(value)}"
        (passes if high <= gate.max + EPS else failures).append(
            f"{what} {'≤' if high <= gate.max + EPS else '>'} max {gate.max:g}")
    if gate.max_regression is not None:
        if baseline is None:
            passes.append("no baseline")
        elif base is None or not math.isfinite(base):
            passes.append(f"the baseline has no {gate.metric}")
        else:
            worse = regression(gate.metric, value - base)
            if bound and div is not None:
                worse = max(regression(gate.metric, div.low), regression(gate.metric, div.high))
            allowed = worse <= gate.max_regression + EPS
            change = "no regression" if worse <= EPS else f"regressed {'up to ' if bound else ''}{worse:.4f}"
            change += " at the 95 % bound" if bound else ""
            (passes if allowed else failures).append(
                f"{change} vs baseline {fmt(base)} ({'≤' if allowed else '>'} {gate.max_regression:g} allowed)")
    reason = "; ".join(failures or passes)
    if gate.judge == "bound" and lacking:
        reason += f" (judge: bound, but {' and '.join(lacking)}: the point value decided)"
    return GateResult(passed=not failures, reason=reason, **common)


def gates_for(model: ModelSpec, environment: Environment | None) -> list[tuple[Gate, str]]:
    """The model's gates, then the environment's policy gates, each with where it comes from."""
    gates = [(g, "model") for g in model.evaluation.gates]
    if environment is not None:
        gates += [(g, "environment") for g in environment.policy.gates]
    return gates


def judge(gates: Sequence[tuple[Gate, str]], candidate: Mapping[str, float],
          baseline: Mapping[str, float] | None, *, intervals: Mapping[str, Interval] | None = None,
          delta_intervals: Mapping[str, Interval] | None = None) -> tuple[GateResult, ...]:
    return tuple(check_gate(g, candidate, baseline, source, intervals=intervals, delta_intervals=delta_intervals)
                 for g, source in gates)


def _intervals(data: Mapping[str, Any] | None) -> dict[str, Interval]:
    return {str(k): Interval.from_list(v) for k, v in (data or {}).items()}


@dataclass(frozen=True)
class Subject:
    """A version and the metrics used for it: ``evaluated`` now, or taken from its ``record``; ``intervals``: the
    metrics' 95 % intervals when it was scored on the test rows; ``slices``: its metrics per slice of
    ``evaluation.slices`` (measured with it, or from its record)."""

    version: str
    metrics: dict[str, float]
    source: str = "evaluated"
    record_metrics: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, Interval] = field(default_factory=dict)
    slices: dict[str, SliceMetrics] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "metrics": self.metrics, "source": self.source,
                "record_metrics": self.record_metrics,
                "intervals": {k: v.to_list() for k, v in sorted(self.intervals.items())},
                **({"slices": {k: v.model_dump(mode="json") for k, v in self.slices.items()}} if self.slices else {})}

    @classmethod
    def from_dict(cls, s: Mapping[str, Any]) -> Subject:
        return cls(str(s["version"]), {str(k): float(v) for k, v in s["metrics"].items()},
                   str(s.get("source", "evaluated")),
                   {str(k): float(v) for k, v in (s.get("record_metrics") or {}).items()},
                   _intervals(s.get("intervals")),
                   {str(k): SliceMetrics.model_validate(v) for k, v in (s.get("slices") or {}).items()})


@dataclass(frozen=True)
class Verdict:
    """Whether ``candidate`` of ``model`` may be pinned in ``environment``, with a reason per gate; the evidence for
    confidence: Δ's intervals, how they were computed (``bootstrap``; None with ``no_interval`` saying why) and the
    environment's ``policy.confidence_margin`` (``margin``) when the verdict was made."""

    model: str
    environment: str
    candidate: Subject
    baseline: Subject | None
    gates: tuple[GateResult, ...]
    data: str = ""  # data version (DVC md5) the metrics were computed on
    notes: tuple[str, ...] = ()
    delta_intervals: dict[str, Interval] = field(default_factory=dict)  # candidate − baseline, paired
    bootstrap: Bootstrap | None = None
    no_interval: str = ""
    margin: float = 0.0

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    @property
    def failed(self) -> list[GateResult]:
        return [g for g in self.gates if not g.passed]

    def confidence(self, margin: float | None = None) -> Confidence:
        return confidence(self, margin)

    def to_dict(self) -> dict[str, Any]:
        """The verdict as JSON; ``confidence`` (at ``margin``) is derived, written for readers, ignored on reading."""
        sure = self.confidence()
        return {"apiVersion": "mlops/v1", "kind": KIND, "model": self.model, "environment": self.environment,
                "passed": self.passed, "data": self.data, "candidate": self.candidate.to_dict(),
                "baseline": None if self.baseline is None else self.baseline.to_dict(),
                "gates": [asdict(g) for g in self.gates], "notes": list(self.notes),
                "delta_intervals": {k: v.to_list() for k, v in sorted(self.delta_intervals.items())},
                "bootstrap": None if self.bootstrap is None else self.bootstrap.to_dict(),
                "no_interval": self.no_interval, "margin": self.margin,
                "confidence": {"margin": sure.margin, "confident": sure.confident, "reasons": list(sure.reasons)}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        """Read a verdict written by :meth:`to_dict`, with or without intervals (KeyError/TypeError/ValueError when
        it is not one)."""
        if data.get("kind") != KIND:
            raise ValueError(f"not a verdict (kind {data.get('kind')!r}, expected {KIND!r})")
        if data["candidate"] is None:
            raise ValueError("a verdict needs a candidate")
        base, boot = data.get("baseline"), data.get("bootstrap")
        return cls(str(data["model"]), str(data["environment"]), Subject.from_dict(data["candidate"]),
                   None if base is None else Subject.from_dict(base),
                   tuple(GateResult(**g) for g in data["gates"]), str(data.get("data", "")),
                   tuple(str(n) for n in data.get("notes", [])), _intervals(data.get("delta_intervals")),
                   None if boot is None else Bootstrap.from_dict(boot), str(data.get("no_interval", "")),
                   float(data.get("margin", 0.0)))

    def text(self) -> str:
        """A table for people."""
        base = self.baseline
        against = (f"baseline {base.version} ({'evaluated now' if base.source == 'evaluated' else 'from its record'})"
                   if base else "no baseline pinned")
        head = (f"{self.model} {self.candidate.version} against {self.environment} ({against}): "
                f"{'PASS' if self.passed else 'FAIL'}")
        rows = [("gate", "metric", "rule", "value", "baseline", "delta", "verdict", "reason")]
        rows += [(g.name, g.metric, g.rule + (" (bound)" if g.judged == "bound" else ""),
                  fmt(g.value) + fmt_interval(g.value_low, g.value_high), fmt(g.baseline),
                  fmt(g.delta, signed=True) + fmt_interval(g.delta_low, g.delta_high, signed=True),
                  "pass" if g.passed else "FAIL", g.reason) for g in self.gates]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        lines = [head] + ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1]
                          for r in rows]
        if not self.gates:
            lines.append("  (no gates apply)")
        lines.append(f"  {self.confidence().text()}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(line.rstrip() for line in lines)
