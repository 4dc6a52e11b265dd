"""What the monitor says: a JSON verdict per (environment, model), and markdown for people.

The markdown serves the step summary, the retraining PR's body and the issue bodies: the verdict, the
drifted columns with their tests, the windows compared, live performance with its interval, the three
monitoring layers, and mermaid charts of the drift score and the live metric over the history (rendered by
GitHub itself; nothing is uploaded anywhere).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mlops.adapters.metrics import Operations
from mlops.monitor.decide import Decision
from mlops.monitor.history import History, Run
from mlops.monitor.performance import Live
from mlops.monitor.quality import Incident
from mlops.report.escape import cell, code, mermaid, text

CHART_RUNS = 30


@dataclass
class Outcome:
    """Everything one run of one (environment, model) found and did."""

    environment: str
    model: str
    version: str
    run: Run
    decision: Decision
    window: str  # the windows compared, in words
    drift: dict[str, Any] | None = None  # DriftResult.to_dict()
    live: Live | None = None
    incidents: list[Incident] = field(default_factory=list)
    operations: Operations | None = None
    history: History | None = None
    repeated: bool = False  # the situation was already judged (by an earlier or concurrent run)
    notes: list[str] = field(default_factory=list)
    html: str | None = None  # the evidently report, when written
    run_url: str | None = None  # the workflow run (its artifacts), under GitHub Actions

    def to_dict(self) -> dict[str, Any]:
        return {"environment": self.environment, "model": self.model, "version": self.version,
                "verdict": self.run.drift, "performance": self.run.performance,
                "decision": {"action": self.decision.action, "reason": self.decision.reason},
                "repeated": self.repeated, "window": self.window, "run": self.run.to_dict(),
                "drift": self.drift, "live": self.live.to_dict() if self.live else None,
                "incidents": [i.to_dict() for i in self.incidents],
                "operations": self.operations.to_dict() if self.operations else None,
                "notes": self.notes, "html": self.html, "run_url": self.run_url}


def _p(value: float | None) -> str:
    return "–" if value is None else f"{value:.2g}"


def drift_table(drift: dict[str, Any], limit: int = 12) -> list[str]:
    tests = [*drift.get("columns", []), *([drift["prediction"]] if drift.get("prediction") else [])]
    tests.sort(key=lambda t: (not t["drifted"], t["p_value"] if t["p_value"] is not None else 2.0))
    rows = ["| column | kind | test | statistic | p-value | level | drifted |", "|---|---|---|---:|---:|---:|:-:|"]
    for t in tests[:limit]:
        stat = "–" if t["statistic"] is None else f"{t['statistic']:.3g}"
        rows.append(f"| {cell(code(t['column']))} | {t['kind']} | {t['method']} | {stat} | {_p(t['p_value'])} | "
                    f"{t['threshold']:.2g} | {'**yes**' if t['drifted'] else 'no'} |")
    if len(tests) > limit:
        rows.append(f"| … {len(tests) - limit} more | | | | | | |")
    return rows


def trend_charts(history: History, title: str) -> list[str]:
    """Mermaid charts of the drift score (−log10 of the smallest p-value) and the live metric, per run."""
    runs = list(history.runs)[-CHART_RUNS:]
    if len(runs) < 2:
        return []
    labels = ", ".join(f'"{mermaid(r.at[5:16].replace("T", " "))}"' for r in runs)
    scores = [r.drift_score if r.drift_score is not None and math.isfinite(r.drift_score) else 0.0 for r in runs]
    out = ["```mermaid", "xychart-beta", f'  title "{mermaid(title)}: drift score (-log10 p) per run"',
           f"  x-axis [{labels}]", f'  y-axis "-log10 p" 0 --> {max(5.0, max(scores) * 1.1):.1f}',
           f"  bar [{', '.join(f'{s:.2f}' for s in scores)}]", "```"]
    live = [(r, r.live) for r in runs if r.live is not None]
    if len(live) >= 2:
        values = [v for _, v in live]
        low, high = min(values), max(values)
        pad = max(0.01, (high - low) * 0.2)
        out += ["", "```mermaid", "xychart-beta", f'  title "{mermaid(title)}: live metric per run"',
                f"  x-axis [{', '.join(chr(34) + mermaid(r.at[5:16].replace('T', ' ')) + chr(34) for r, _ in live)}]",
                f'  y-axis "live" {low - pad:.3f} --> {high + pad:.3f}',
                f"  line [{', '.join(f'{v:.4f}' for v in values)}]", "```"]
    return out


def markdown(o: Outcome, *, charts: bool = True) -> str:
    r = o.run
    head = f"### Monitor: {code(o.model)} in {text(o.environment)} (version {code(o.version)})"
    lines = [head, "", f"**Decision:** {o.decision.action} — {text(o.decision.reason)}", ""]
    if o.repeated:
        lines += ["This window was already judged; nothing new to act on.", ""]
    lines += ["| check | verdict | detail |", "|---|---|---|",
              f"| drift | {r.drift} | {text(o.window)} |"]
    if o.live is not None:
        lines.append(f"| live performance | {o.live.verdict} | {cell(text(o.live.detail))} |")
    for incident in o.incidents:
        lines.append(f"| data quality | {incident.kind} | {cell(text(incident.detail))} |")
    if not o.incidents:
        lines.append("| data quality | ok | no missing, out-of-range or unseen values; schema matches |")
    lines.append("")
    if o.drift and o.drift.get("columns"):
        lines += ["<details><summary>Drift tests (family-wise level "
                  f"{o.drift['alpha']}, {o.drift['tests']} tests)</summary>", "", *drift_table(o.drift), "",
                  "</details>", ""]
    if o.operations is not None:
        lines += ["<details><summary>Serving: infrastructure, performance, cost</summary>", "",
                  o.operations.markdown(lambda v: cell(text(v))), "", "</details>", ""]
    if charts and o.history is not None:
        lines += trend_charts(o.history, f"{o.model} in {o.environment}")
    if o.run_url:
        lines += ["", f"Report artifact (evidently HTML, JSON verdict): {o.run_url}"]
    for note in o.notes:
        lines.append(f"- {text(note)}")
    return "\n".join(lines).rstrip() + "\n"
