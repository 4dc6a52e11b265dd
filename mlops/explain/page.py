"""The explanation as a page for people: plain text for a terminal, the same lines in a step summary."""

from __future__ import annotations

from mlops.explain.explain import Explanation, PinEvent, Pull


def _short(version: str | None) -> str:
    return version or "nothing"


def _when(iso: str) -> str:
    return iso.replace("T", " ")[:16] + " UTC" if iso else "?"


def _pull(pull: Pull | None) -> str:
    if pull is None:
        return "no pull request found"
    state = "merged" if pull.merged else "not merged"
    approved = f"approved by {', '.join(pull.approved_by)}" if pull.approved_by else "no approving review"
    gates = f"; mlops/gates on its head: {pull.gates[0]} ({pull.gates[1]})" if pull.gates else \
        "; no mlops/gates status on its head"
    return f"pull request #{pull.number} “{pull.title}” by {pull.author or '?'} — {state}; {approved}{gates}"


def _event(e: PinEvent) -> str:
    kind = "  rollback" if e.rollback else ""
    pr = f"  #{e.pull.number}" if e.pull else ""
    return (f"{_when(e.date)}  {_short(e.before)} → {_short(e.after)}{kind}  {e.commit[:12]} {e.author}: "
            f"“{e.subject}”{pr}")


def page(x: Explanation) -> str:
    r = x.record
    title = f"{x.model}@{x.version} runs in {x.environment}" if x.environment else \
        f"{x.model}@{x.version}" + (f" (pinned in {', '.join(x.pinned_in)})" if x.pinned_in else " (pinned nowhere)")
    rows = ", ".join(f"{k} {v:,}" for k, v in sorted(r.data.rows.items()))
    params = ", ".join(f"{k}={v}" for k, v in sorted(r.params.items())) or "none"
    metrics = " · ".join(f"{k} {v:.4g}" for k, v in sorted(r.metrics.items()))
    lines = [
        title, "",
        f"record    {x.record_file} (created {_when(r.created)}; parent {r.parent or 'none'})",
        f"artifact  {r.artifact.digest}  {r.artifact.uri}",
        f"data      {r.data.path}  md5 {r.data.md5}" + (f"  ({rows} rows)" if rows else ""),
        f"code      commit {r.code.commit[:12]}{' (dirty)' if r.code.dirty else ''}  model.py {r.code.model_py_sha256}",
        f"params    {params}",
        f"metrics   {metrics}",
        f"software  python {r.environment.python} · torch {r.environment.torch} · mlops {r.environment.mlops} · "
        f"{r.environment.device}",
    ]
    if x.environment:
        lines += ["", "pinned by " + (_event(x.pinned_by) if x.pinned_by else "no commit found")]
        if x.pinned_by:
            lines.append(f"          {_pull(x.pinned_by.pull)}")
        against = f" against {x.baseline}, the version it replaced" if x.baseline else ""
        lines.append(f"gates in {x.environment}{against}: {'passed' if x.passed else 'FAILED'}")
        lines += [f"  {'✓' if g.passed else '✗'} {g.name}: {g.reason}" for g in x.gates]
    if x.path:
        path = " → ".join(f"{e.environment} {_when(e.date)}" + (f" (#{e.pull.number})" if e.pull else "")
                          for e in x.path)
        lines += ["", f"promotion path  {path}"]
    lines.append(f"pinned now in   {', '.join(x.pinned_in) or 'no environment'}")
    lines.append(f"model card      {x.card or 'none committed (older record)'}; `mlops explain {x.model}@{x.version} "
                 "--card` prints it with today's gates and approvals")
    if x.history:
        lines += ["", f"pin history of {x.model} in {x.environment} (newest first)"]
        lines += [f"  {_event(e)}" for e in x.history]
    if x.deploys:
        lines += ["", f"deployments to {x.environment} (newest first)"]
        lines += [f"  {_when(d.date)}  {d.commit[:12]}  {x.model}@{_short(d.version)}  {d.state}" for d in x.deploys]
    if x.notes:
        lines += ["", *(f"note: {n}" for n in x.notes)]
    return "\n".join(lines) + "\n"
