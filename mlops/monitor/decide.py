"""What the monitor does about a judged window: nothing, wait, retrain, or roll back (pure: no I/O).

- A window is *bad* when its drift verdict is "drift" or its live performance is worse than the record's
  beyond the tolerance with confidence. Data-quality incidents are not bad windows: they become issues.
- **Hysteresis:** act only when the last ``hysteresis`` windows of the running version (this one included)
  were all bad; one noisy window never opens a PR.
- **Cooldown:** after acting on a version, do not act on it again for ``cooldown_hours``.
- **Never retrain while a retraining PR for the model is open**: it is the answer already on its way.
- **Which action:** worse live performance *without drift* on a version promoted within
  ``rollback_within_hours``, when the version before it was better → roll back (the delivery's rollback and
  revert PR). Everything else retrains: when the inputs drifted, the previous version was trained on the same
  old data and would do no better.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mlops.core.spec.model import Monitoring
from mlops.monitor.history import History, Run


@dataclass(frozen=True)
class Context:
    """What the decision needs beyond the history: the state of the world outside the window."""

    now: datetime
    open_retrain_pr: int | None = None
    promoted_at: datetime | None = None  # when the running version was pinned in this environment
    previous: str | None = None  # the version pinned before it
    previous_better: bool = False  # the previous version did better than this one does live


@dataclass(frozen=True)
class Decision:
    action: str  # "none" | "wait" | "retrain" | "rollback"
    reason: str

    @property
    def acts(self) -> bool:
        return self.action in ("retrain", "rollback")


def _parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def streak(history: History, run: Run) -> int:
    """How many windows in a row, ending with ``run``, of ``run``'s version were bad."""
    count = 0
    for r in [*history.of_version(run.version), run][::-1]:
        if not r.bad:
            break
        count += 1
    return count


def last_action(history: History, version: str) -> Run | None:
    return next((r for r in reversed(history.runs) if r.acted and r.version == version), None)


def decide(history: History, run: Run, config: Monitoring, ctx: Context) -> Decision:
    """The decision for ``run`` (not yet in ``history``) under the model's monitoring ``config``."""
    if not run.bad:
        return Decision("none", "nothing to act on" if run.drift != "insufficient data" or run.labels else
                        "not enough data to judge")
    what = "drift" if run.drift == "drift" else "live performance below the record"
    if run.drift == "drift" and run.performance == "worse":
        what = "drift and live performance below the record"
    bad = streak(history, run)
    if bad < config.hysteresis:
        return Decision("wait", f"{what} in {bad} of the {config.hysteresis} consecutive windows needed to act")
    previous = last_action(history, run.version)
    if previous is not None and config.cooldown_hours > 0:
        until = _parse(previous.at) + timedelta(hours=config.cooldown_hours)
        if ctx.now < until:
            return Decision("wait", f"{what}; cooling down after {previous.acted} until {until:%Y-%m-%d %H:%M} UTC")
    recent = ctx.promoted_at is not None and \
        ctx.now - ctx.promoted_at <= timedelta(hours=config.actions.rollback_within_hours)
    if run.performance == "worse" and run.drift != "drift" and config.actions.rollback and recent and \
            ctx.previous and ctx.previous_better:
        return Decision("rollback", f"{what} in {bad} consecutive windows; {run.version} was promoted "
                                    f"{ctx.promoted_at:%Y-%m-%d %H:%M} UTC and {ctx.previous} did better")
    if config.actions.retrain and ctx.open_retrain_pr is not None:
        return Decision("wait", f"{what}; retraining PR #{ctx.open_retrain_pr} is already open")
    if config.actions.retrain:
        return Decision("retrain", f"{what} in {bad} consecutive windows")
    return Decision("none", f"{what} in {bad} consecutive windows; the model's monitoring.actions allow no action")
