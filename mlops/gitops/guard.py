"""Guarded policy changes: a pull request that loosens a rule waits for the governance team's approval.

:func:`loosened_since` compares the specs and environments of the checkout with those of the base revision
(:mod:`mlops.core.loosening`); :func:`governance_approval` reads the pull request's reviews and the team's
members from the forge: the change may pass only when a member of the governance team (``.github/mlops.yaml``)
approved the head being judged. Tightening needs nothing extra.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlops.adapters.forge import Forge
from mlops.adapters.scm import try_open_scm
from mlops.core.errors import Problem
from mlops.core.loosening import loosenings
from mlops.core.owners import load_governance
from mlops.core.repo import ENVIRONMENTS, MODELS, load_repository


def loosened_since(root: Path, base: str) -> list[Problem]:
    """The rules the checkout at ``root`` loosens relative to revision ``base`` (none outside git)."""
    scm = try_open_scm(root)
    if scm is None:
        return []
    with tempfile.TemporaryDirectory(prefix="mlops-base-") as tmp:
        old = load_repository(scm.export(scm.require(base), [MODELS, ENVIRONMENTS], Path(tmp)), records=False)
        return loosenings(old, load_repository(root, records=False))


@dataclass(frozen=True)
class Approval:
    """Whether the governance team approved the head; ``reason`` says who did, or what is missing."""

    approved: bool
    team: str | None
    reason: str


def governance_approval(root: Path, forge: Forge, pr: int | None, head_sha: str) -> Approval:
    """Did a member of the governance team approve ``head_sha`` of pull request ``pr``?"""
    governance, problems = load_governance(root)
    if governance is None:
        why = problems[0].message if problems else "no governance team is named (.github/mlops.yaml)"
        return Approval(False, None, f"{why}; a loosening cannot be approved")
    team = governance.team
    if pr is None:
        return Approval(False, team, f"no pull request to read {team}'s approval from")
    latest: dict[str, tuple[str, str]] = {}
    for review in forge.reviews(pr):  # a reviewer's last word counts; a comment is not a word on approval
        if review.state != "COMMENTED":
            latest[review.user.lower()] = (review.state, review.commit)
    approvers = {user for user, (state, commit) in latest.items() if state == "APPROVED" and commit == head_sha}
    name = team.removeprefix("@")
    members: set[str] | None = None  # an e-mail address names nobody the reviews API knows
    if "/" in name:
        found = forge.team_members(f"@{name}")
        members = {m.lower() for m in found} if found is not None else None
    elif "@" not in name:  # one person is the governance team
        members = {name.lower()}
    if members is None:
        return Approval(False, team, f"cannot read {team}'s members (a team needs the App's organization "
                                     "permission Members: read; an e-mail address names no GitHub login)")
    approved_by = sorted(approvers & members)
    if approved_by:
        return Approval(True, team, f"approved by {', '.join(approved_by)} of {team}")
    return Approval(False, team, f"needs an approval of this head by a member of {team}")
