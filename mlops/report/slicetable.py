"""The report's slice table: each slice of ``evaluation.slices`` with its rows and the gated metrics (candidate and
every pinned baseline, with 95 % intervals), the worst slice of each metric flagged.

The worst slice (lowest for a higher-is-better metric, highest otherwise) is flagged ⚠️ and bold among the slices
with enough rows; a slice with fewer rows than any slice gate covering it needs says "too few rows" (a gate that
skips a slice names it in its reason). Everything a pull request can write — slice names, columns, expressions —
is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlops.core.policy import Subject, Verdict, fmt
from mlops.core.slicegates import worst_slice
from mlops.core.spec.model import HIGHER_IS_BETTER, ModelSpec, Slice
from mlops.core.spec.record import SliceMetrics
from mlops.report.escape import cell, code, text

WORST = "⚠️"
DEFAULT_MIN_ROWS = 20


@dataclass(frozen=True)
class SliceView:
    """What the spec says about its slices: each one's rule (in the spec's order), the metrics its slice gates
    judge, and the fewest rows a slice needs to be judged by a gate that covers it (fewer: "too few rows")."""

    rules: dict[str, str] = field(default_factory=dict)
    metrics: list[str] = field(default_factory=list)
    min_rows: dict[str, int] = field(default_factory=dict)


def _number(value: float) -> str:
    return "∞" if value == float("inf") else "−∞" if value == float("-inf") else f"{value:g}"


def rule(s: Slice) -> str:
    """A slice's definition in plain text: ``12 ≤ mean_radius < 15``, ``grade in {1, 2}`` or its expression."""
    if s.where is not None:
        return s.where
    if s.values is not None:
        return f"{s.column} in {{{', '.join(str(v).lower() if isinstance(v, bool) else f'{v:g}' for v in s.values)}}}"
    assert s.range is not None
    low, high = s.range
    if low == float("-inf"):
        return f"{s.column} < {_number(high)}"
    if high == float("inf"):
        return f"{s.column} ≥ {_number(low)}"
    return f"{_number(low)} ≤ {s.column} < {_number(high)}"


def view(spec: ModelSpec) -> SliceView | None:
    ev = spec.evaluation
    if not ev.slices:
        return None
    names = [s.name for s in ev.slices]
    metrics: list[str] = list(dict.fromkeys(g.metric for g in ev.slice_gates)) or list(ev.metrics)
    need: dict[str, int] = {}
    for gate in ev.slice_gates:
        for name in gate.slices or names:
            need[name] = min(need.get(name, gate.min_rows), gate.min_rows)
    return SliceView({s.name: rule(s) for s in ev.slices}, metrics, need)


def _value(score: SliceMetrics | None, metric: str, flag: bool = False) -> str:
    if score is None or metric not in score.metrics:
        return "—"
    iv = score.intervals.get(metric)
    shown = fmt(score.metrics[metric]) + (" " + text(f"[{iv[0]:.3f}, {iv[1]:.3f}]") if iv else "")
    return f"{WORST} **{shown}**" if flag else shown


def _baselines(verdicts: list[Verdict]) -> list[tuple[Subject, list[str]]]:
    groups: dict[tuple[str, str], tuple[Subject, list[str]]] = {}
    for v in verdicts:
        if v.baseline is not None and v.baseline.slices:
            groups.setdefault((v.baseline.version, v.baseline.source), (v.baseline, []))[1].append(v.environment)
    return list(groups.values())


def slices_section(verdicts: list[Verdict], spec_view: SliceView | None) -> list[str]:
    """The slice table of a model's section (nothing when its candidate has no slice metrics)."""
    if not verdicts or not verdicts[0].candidate.slices:
        return []
    candidate = verdicts[0].candidate.slices
    shown = spec_view or SliceView()
    order = [s for s in shown.rules if s in candidate] + [s for s in candidate if s not in shown.rules]
    metrics = shown.metrics or sorted({m for s in candidate.values() for m in s.metrics})
    need = {s: shown.min_rows.get(s, DEFAULT_MIN_ROWS) for s in order}
    judged = {s: candidate[s] for s in order if candidate[s].rows >= need[s]}
    worst = {m: worst_slice(m, judged) for m in metrics}
    baselines = _baselines(verdicts)
    header, align = ["slice", "rows"], ["---", "---:"]
    for m in metrics:
        arrow = "↑" if m in HIGHER_IS_BETTER else "↓"
        header.append(f"{text(m)} {arrow} candidate")
        align.append("---:")
        for subject, envs in baselines:
            source = "" if subject.source == "evaluated" else ", from record"
            header.append(f"{text(m)} {code(subject.version)} ({text(', '.join(envs))}{source})")
            align.append("---:")
    rows = []
    for name in order:
        score = candidate[name]
        label = code(name) + (f" · {code(shown.rules[name])}" if name in shown.rules else "")
        count = str(score.rows) + ("" if score.rows >= need[name] else f" · too few rows (< {need[name]})")
        row = [label, count]
        for m in metrics:
            row.append(_value(score, m, worst[m] == name))
            row += [_value(subject.slices.get(name), m) for subject, _ in baselines]
        rows.append(row)
    flagged = ", ".join(f"{text(m)}: {code(s)}" for m, s in worst.items() if s is not None)
    lines = ["**Slices** on the held-out test split (95 % intervals; " + WORST + " the worst slice"
             + (f" — {flagged}" if flagged else "") + "):", ""]
    lines += ["| " + " | ".join(cell(c) for c in header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]
