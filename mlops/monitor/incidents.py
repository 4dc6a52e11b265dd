"""One issue per data-quality incident: opened when it appears, updated while it persists, closed when it clears.

The issue is found again by the marker ``<!-- mlops-incident <fingerprint> -->`` in a body the bot wrote, under
the label ``mlops-data-quality`` — so a second run (or a concurrent one) updates the issue instead of opening
another, and a person's issue quoting the marker is never touched.
"""

from __future__ import annotations

from collections.abc import Callable

from mlops.adapters.forge import Forge
from mlops.monitor.quality import KINDS, Incident
from mlops.report.escape import cell, code, text

LABEL = "mlops-data-quality"
LABELS = ("mlops", LABEL)


def marker(fingerprint: str) -> str:
    return f"<!-- mlops-incident {fingerprint} -->"


def body(environment: str, model: str, version: str, incident: Incident, fingerprint: str, window: str,
         *, cleared: str | None = None) -> str:
    rows = [f"| {cell(code(column))} | {share:.2%} |" for column, share in sorted(incident.evidence.items())]
    lines = [marker(fingerprint),
             f"## Data quality: {incident.kind} in {code(model)} ({environment}, version {code(version)})",
             "",
             text(incident.detail) + ".",
             "",
             f"Window: {text(window)}.",
             ""]
    if rows and incident.kind != "schema":
        lines += ["| feature | share of rows |", "|---|---:|", *rows, ""]
    lines.append("This is a data-quality incident, not drift: the monitor opens no retraining PR for it. "
                 "Fix the producer of the inputs; the monitor closes this issue when a window no longer shows it.")
    if cleared:
        lines += ["", f"**Cleared** {text(cleared)}: the latest window no longer shows it."]
    return "\n".join(lines) + "\n"


def sync_incidents(forge: Forge, environment: str, model: str, version: str, incidents: list[Incident], window: str,
                   say: Callable[[str], None] = print) -> list[str]:
    """Open, update or close the incident issues of (environment, model); returns what happened, one line each."""
    notes = []
    current = {i.kind: i for i in incidents}
    for kind in KINDS:
        fingerprint = Incident(kind, (), "", {}).fingerprint(environment, model)
        existing = forge.find_issue(marker(fingerprint), LABEL)
        incident = current.get(kind)
        if incident is not None:
            new = body(environment, model, version, incident, fingerprint, window)
            if existing is None:
                issue = forge.open_issue(f"Data quality: {kind} in {model} ({environment})", new, LABELS)
                notes.append(f"opened issue #{issue.number} ({kind}): {incident.detail}")
            elif existing.body != new:
                forge.update_issue(existing.number, body=new)
                notes.append(f"updated issue #{existing.number} ({kind}): {incident.detail}")
            else:
                notes.append(f"issue #{existing.number} ({kind}) unchanged")
        elif existing is not None:
            forge.update_issue(existing.number, body=existing.body + f"\n**Cleared**: {text(window)} no longer "
                                                                    "shows it.\n", state="closed")
            notes.append(f"closed issue #{existing.number} ({kind}): cleared")
    for note in notes:
        say(note)
    return notes
