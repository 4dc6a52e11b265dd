"""Render the report as one markdown comment (GitHub-flavoured; charts are mermaid, nothing is uploaded).

Deterministic: the same inputs give the same bytes, so an unchanged report is never rewritten.
Metrics and Δ carry their 95 % intervals when the verdicts have them (``0.9512 [0.931, 0.968]``); each
environment gets a line saying whether its verdict is confident at its ``policy.confidence_margin``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mlops.core.card import card_path
from mlops.core.confidence import Interval
from mlops.core.policy import Subject, Verdict, fmt
from mlops.core.spec.model import HIGHER_IS_BETTER
from mlops.core.spec.record import VersionRecord
from mlops.report.charts import curves
from mlops.report.collect import ModelReport, ReportData
from mlops.report.escape import cell, code, text
from mlops.report.slicetable import slices_section

MARKER = "<!-- mlops-report -->"
MAX_CHARS = 65_000  # GitHub refuses comments longer than 65 536 characters
MAX_DIFF_CHARS = 20_000
PASS, FAIL = "✅", "❌"


def table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> list[str]:
    """A GFM table of markdown fragments (raw values must go through :func:`text` or :func:`code` first)."""
    align = align or ["---"] * len(header)
    return (["| " + " | ".join(cell(c) for c in header) + " |", "|" + "|".join(align) + "|"]
            + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows])


def _metric_name(name: str) -> str:
    return f"{text(name)} {'↑' if name in HIGHER_IS_BETTER else '↓'}"


def _baseline_text(subject: Subject | None) -> str:
    if subject is None:
        return "none pinned"
    return f"{code(subject.version)} ({'evaluated now' if subject.source == 'evaluated' else 'from its record'})"


def interval(iv: Interval | None, signed: bool = False) -> str:
    """`` [low, high]`` at three decimals (escaped), or nothing."""
    if iv is None:
        return ""
    form = "+.3f" if signed else ".3f"
    return " " + text(f"[{iv.low:{form}}, {iv.high:{form}}]")


def with_interval(value: float | None, iv: Interval | None, signed: bool = False) -> str:
    return fmt(value, signed) + (interval(iv, signed) if value is not None else "")


def verdict_cell(verdict: Verdict | None, required: bool) -> str:
    if verdict is None:
        return "not evaluated"
    total = len(verdict.gates)
    if verdict.passed:
        cell_text = f"{PASS} {total}/{total} gates passed" if total else f"{PASS} no gates"
    else:
        failed = verdict.failed
        cell_text = f"{FAIL} {len(failed)} of {total} failed: " + ", ".join(code(g.name) for g in failed)
    return cell_text + (" · **required**" if required else " · before promotion")


def _flatten(prefix: str, data: Mapping[str, Any]) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(f"{name}.", value))
        else:
            flat[name] = str(value)
    return flat


def params_of(record: VersionRecord) -> dict[str, str]:
    return {**_flatten("", record.params), **_flatten("training.", record.training)}


def metrics_section(report: ModelReport) -> list[str]:
    verdicts = report.verdicts
    if not verdicts:
        return []
    candidate = verdicts[0].candidate
    groups: dict[tuple[str, str], tuple[Verdict, list[str]]] = {}
    for v in verdicts:
        if v.baseline is not None:
            key = (v.baseline.version, v.baseline.source)
            groups.setdefault(key, (v, []))[1].append(v.environment)
    header, align = ["metric", "candidate"], ["---", "---:"]
    for v, envs in groups.values():
        assert v.baseline is not None
        source = "" if v.baseline.source == "evaluated" else ", from record"
        header += [f"{code(v.baseline.version)} ({text(', '.join(envs))}{source})", "Δ"]
        align += ["---:", "---:"]
    rows = []
    for name in sorted(candidate.metrics):
        value = candidate.metrics[name]
        row = [_metric_name(name), with_interval(value, candidate.intervals.get(name))]
        for v, _ in groups.values():
            assert v.baseline is not None
            base = v.baseline.metrics.get(name)
            row += [with_interval(base, v.baseline.intervals.get(name)),
                    with_interval(value - base, v.delta_intervals.get(name), signed=True) if base is not None
                    else "—"]
        rows.append(row)
    data = verdicts[0].data
    lines = [f"**Metrics** on the held-out test split{f' (data {code(data[:12])})' if data else ''}"
             + (", no pinned baseline yet" if not groups else "") + ":", ""]
    return [*lines, *table(header, rows, align), ""]


def confidence_section(report: ModelReport) -> list[str]:
    """One line per environment with a verdict: confident at its margin or why not, and auto-merge eligibility."""
    rows = [row for row in report.envs if row.verdict is not None]
    if not rows:
        return []
    boot = next((row.verdict.bootstrap for row in rows if row.verdict and row.verdict.bootstrap), None)
    how = (f"{boot.level * 100:g} % intervals: {text(boot.method)}, {boot.replicates} resamples of {boot.rows} rows, "
           f"seed {boot.seed}" if boot is not None else "no intervals")
    lines = [f"**Confidence** at each environment's margin ({how}):", ""]
    for row in rows:
        assert row.verdict is not None
        sure = row.verdict.confidence()
        head = f"- {text(row.env)} (margin {sure.margin:g}): "
        if sure.confident:
            lines.append(head + "confident" + (" · **auto-merge eligible**" if row.auto_merge else ""))
        else:
            lines.append(head + "not confident — " + text("; ".join(sure.reasons)))
    return [*lines, ""]


def gates_section(report: ModelReport) -> list[str]:
    """One row per gate outcome; a gate with the same outcome in several environments is one row."""
    grouped: dict[tuple[str, str, str, str], list[str]] = {}
    for row in report.envs:
        for g in row.verdict.gates if row.verdict is not None else ():
            name = code(g.name) + ("" if g.source == "model" else " (env policy)")
            rule = text(g.rule) + (" · on the 95 % bound" if g.judged == "bound" else "")
            key = (name, rule, fmt(g.value), f"{PASS if g.passed else FAIL} {text(g.reason)}")
            grouped.setdefault(key, []).append(row.env)
    if not grouped:
        return []
    rows = [[text(", ".join(envs)), *key] for key, envs in grouped.items()]
    return ["**Gates**:", "", *table(["environments", "gate", "rule", "value", "result"], rows), ""]


def params_section(report: ModelReport) -> list[str]:
    if report.record is None:
        return []
    cand = params_of(report.record)
    baselines: dict[str, tuple[VersionRecord, list[str]]] = {}
    for row in report.envs:
        if row.baseline is not None and row.baseline.version != report.record.version:
            baselines.setdefault(row.baseline.version, (row.baseline, []))[1].append(row.env)
    if not baselines:
        shown = ", ".join(f"{code(f'{k}={v}')}" for k, v in sorted(cand.items())) or "none"
        return [f"**Params** (no pinned baseline to compare with): {shown}", ""]
    lines: list[str] = []
    for version, (record, envs) in baselines.items():
        base = params_of(record)
        changed = [[code(k), code(base[k]) if k in base else "—", code(cand[k]) if k in cand else "—"]
                   for k in sorted(set(base) | set(cand))
                   if base.get(k) != cand.get(k)]
        where = f"{code(version)} (pinned in {text(', '.join(envs))})"
        if changed:
            lines += [f"**Params** vs {where}: {len(changed)} changed", "",
                      *table(["param", "baseline", "candidate"], changed), ""]
        else:
            lines += [f"**Params** vs {where}: unchanged", ""]
    return lines


def data_section(report: ModelReport) -> list[str]:
    record = report.record
    if record is None:
        return []
    rows = text(", ".join(f"{k} {v}" for k, v in record.data.rows.items()))
    lines = [f"**Data**: trained on {code(record.data.path)} at DVC md5 {code(record.data.md5[:12])}"
             + (f" ({rows})" if rows else "")]
    seen: set[str] = set()
    for row in report.envs:
        base = row.baseline
        if base is None or base.version in seen or base.version == record.version:
            continue
        seen.add(base.version)
        same = base.data.md5 == record.data.md5
        lines.append(f"- vs {code(base.version)}: " + ("same data" if same else
                     f"different data (baseline md5 {code(base.data.md5[:12])} → candidate "
                     f"{code(record.data.md5[:12])})"))
    return [*lines, ""]


def curves_section(report: ModelReport) -> list[str]:
    if report.record is None or not report.record.history:
        return []
    blocks, notes = curves(report.record.history, f"{report.model} {report.record.version}")
    if not blocks:
        return []
    out = ["<details open><summary><b>Training curves</b></summary>", ""]
    for block in blocks:
        out += [block, ""]
    out += [f"- {n}" for n in notes]  # charts.curves escapes what it names
    return [*out, "</details>", ""]


def model_section(report: ModelReport) -> list[str]:
    title = f"### {code(report.model)}"
    if report.candidate is None:
        return [title + " · not evaluated", "",
                "Files of this model changed, but there is no verdict for it in this run (no version record was "
                "trained yet, or training waits for a maintainer).", ""]
    lines = [f"{title} · candidate {code(report.candidate)} · model card "
             f"{code(card_path(report.model, report.candidate))}", ""]
    lines += table(["environment", "pinned baseline", "verdict"],
                   [[row.env, _baseline_text(row.verdict.baseline if row.verdict else None)
                     if row.verdict else (code(row.baseline.version) if row.baseline else "none pinned"),
                     verdict_cell(row.verdict, row.required)] for row in report.envs])
    lines.append("")
    for part in (metrics_section, gates_section, confidence_section, params_section, data_section):
        lines += part(report)
        lines += slices_section(report.verdicts, report.slices) if part is metrics_section else []
    notes = list(dict.fromkeys(n for v in report.verdicts for n in v.notes))
    lines += [f"> [!NOTE]\n> {text(n)}\n" for n in notes]
    return lines + curves_section(report)


def overall(data: ReportData) -> tuple[bool, str]:
    failed = [(m.model, row.env) for m in data.models for row in m.envs
              if row.required and row.verdict is not None and not row.verdict.passed]
    later = [(m.model, row.env) for m in data.models for row in m.envs
             if not row.required and row.verdict is not None and not row.verdict.passed]
    if failed:
        return False, f"{FAIL} **Required gates failed**: " + text(", ".join(f"{m} in {e}" for m, e in failed))
    headline = f"{PASS} **All required gates passed**"
    if later:
        headline += " · not yet promotable: " + text(", ".join(f"{m} to {e}" for m, e in later))
    return True, headline


def manifest_section(data: ReportData) -> list[str]:
    if data.manifest is None:
        return ["### Manifests", "", f"_Omitted: {text(data.manifest_note)}._", ""] if data.manifest_note else []
    lines = [f"### Manifests ({code(f'mlops diff --base {data.base}')})", "",
             *[f"- {text(line)}" for line in data.manifest], ""]
    unified = data.manifest_unified.strip()
    if unified:
        if len(unified) > MAX_DIFF_CHARS:
            unified = unified[:MAX_DIFF_CHARS].rsplit("\n", 1)[0] + "\n… (truncated; run `mlops diff` for all of it)"
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", unified)), default=0))
        lines += ["<details><summary>Unified diff</summary>", "", f"{fence}diff", unified, fence, "", "</details>",
                  ""]
    return lines


def loosened_section(data: ReportData) -> list[str]:
    """A rule this pull request loosens, at the top: `mlops/gates` stays pending until governance approves."""
    if not data.loosened:
        return []
    who = f"a member of {code(data.governance)}" if data.governance else \
        "the governance team (none is named: add `governance.team` to `.github/mlops.yaml`)"
    return ["> [!WARNING]", f"> **This pull request loosens {len(data.loosened)} rule(s).** The `mlops/gates` "
            f"status stays pending until {who} approves it.", ">",
            *(f"> - {code(item)}" for item in data.loosened), ""]


def render(data: ReportData) -> str:
    _, headline = overall(data)
    lines = [MARKER, "## mlops report", ""]
    lines += loosened_section(data)
    if data.models:
        lines += [headline, ""]
    else:
        lines += ["No model changed in this pull request: nothing to train or gate.", ""]
    for model in data.models:
        lines += model_section(model)
    if data.data is not None:
        old, new = data.data
        lines += ["### Data", "", f"`data.dvc` changes in this pull request: md5 {code(old or 'none')} → "
                                  f"{code(new or 'none')}.", ""]
    lines += manifest_section(data)
    lines += [f"- {text(n)}" for n in data.notes]
    footer = "<sub>written by `mlops report`" + (f" for {code(data.head[:12])}" if data.head else "") + \
             (f" against {code(data.base)}" if data.base else "") + " · updated in place</sub>"
    out = "\n".join([*lines, footer]) + "\n"
    if len(out) > MAX_CHARS:
        out = out[: MAX_CHARS - 200].rsplit("\n", 1)[0] + "\n\n… (report truncated to fit a GitHub comment)\n"
    return out


def verdict_markdown(verdict: Verdict) -> str:
    """One verdict as a short markdown block (for `mlops evaluate`'s step summary)."""
    head = (f"### {PASS if verdict.passed else FAIL} {code(verdict.model)} {code(verdict.candidate.version)} against "
            f"{text(verdict.environment)} (baseline: {_baseline_text(verdict.baseline)})")
    rows = [[code(g.name), text(g.metric), text(g.rule) + (" · on the 95 % bound" if g.judged == "bound" else ""),
             with_interval(g.value, _iv(g.value_low, g.value_high)), fmt(g.baseline),
             with_interval(g.delta, _iv(g.delta_low, g.delta_high), signed=True),
             f"{PASS if g.passed else FAIL} {text(g.reason)}"] for g in verdict.gates]
    lines = [head, "", *table(["gate", "metric", "rule", "value", "baseline", "Δ", "result"], rows), ""]
    if not rows:
        lines = [head, "", "No gates apply.", ""]
    lines += [text(verdict.confidence().text()), ""]
    return "\n".join(lines + [f"> {text(n)}" for n in verdict.notes]) + "\n"


def _iv(low: float | None, high: float | None) -> Interval | None:
    return None if low is None or high is None else Interval(low, high)
