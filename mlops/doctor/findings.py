"""What ``mlops doctor`` found: one finding per check (ok / missing / unknown), and how it is shown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "missing", "unknown"]
MARK: dict[Status, str] = {"ok": "✓", "missing": "✗", "unknown": "?"}


class Malformed(Exception):
    """GitHub answered, but not in the shape its API description promises; the check becomes unknown."""


@dataclass(frozen=True)
class Finding:
    check: str  # a stable id: fork-pr-approval, ruleset, codeowners, bot-environment, runner-groups, app-permissions
    title: str
    status: Status
    detail: str  # what was read, and why it is (not) enough
    fix: str = ""  # one line: the fix when missing, how to check when unknown
    reads: tuple[str, ...] = ()  # the REST operations (operationIds) the check read

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "title": self.title, "status": self.status, "detail": self.detail,
                "fix": self.fix, "reads": list(self.reads)}


@dataclass(frozen=True)
class DoctorReport:
    repository: str
    default_branch: str
    findings: Sequence[Finding] = field(default_factory=tuple)

    def count(self, status: Status) -> int:
        return sum(1 for f in self.findings if f.status == status)

    def exit_code(self, strict: bool = False) -> int:
        """1 when something required is missing (or, with ``strict``, could not be checked); else 0."""
        failing = self.count("missing") + (self.count("unknown") if strict else 0)
        return 1 if failing else 0

    def summary(self) -> str:
        return ", ".join(f"{self.count(s)} {s}" for s in ("missing", "unknown", "ok"))

    def to_dict(self) -> dict[str, Any]:
        return {"repository": self.repository, "default_branch": self.default_branch,
                "ok": self.count("missing") == 0,
                "counts": {s: self.count(s) for s in ("ok", "missing", "unknown")},
                "findings": [f.to_dict() for f in self.findings]}

    def text(self) -> str:
        """A table for a terminal: status, check, detail; the fix (or how to check) under each that is not ok."""
        width = max((len(f.title) for f in self.findings), default=0)
        lines = [f"mlops doctor: {self.repository} (default branch {self.default_branch})", ""]
        for f in self.findings:
            lines.append(f"{MARK[f.status]} {f.status:<8} {f.title:<{width}}  {f.detail}")
            if f.status != "ok" and f.fix:
                label = "fix" if f.status == "missing" else "how"
                lines.append(f"  {'':<8} {'':<{width}}  {label}: {f.fix}")
        lines += ["", self.summary()]
        return "\n".join(lines) + "\n"

    def markdown(self) -> str:
        """The same as a GitHub step summary."""
        rows = [f"| {MARK[f.status]} {f.status} | {_cell(f.title)} | {_cell(f.detail)} | "
                f"{_cell(f.fix) if f.status != 'ok' else ''} |" for f in self.findings]
        return "\n".join([f"### mlops doctor: `{self.repository}` ({self.summary()})", "",
                          "| status | check | found | fix |", "|---|---|---|---|", *rows])


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
