"""Which (environment, model) pairs the scheduled workflow monitors now: each model's own schedule decides.

``monitor.yml`` wakes up on one frequent cron; a pinned model is *due* when its ``monitoring.schedule``
fired since its last monitor run in that environment (read from the history branch), so a late or skipped
wake-up never loses a run and an extra one never repeats it. Environments monitored are those whose pins
serve traffic somewhere the monitor can read (every environment with a pinned model).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mlops.adapters.forge import Forge
from mlops.core import cron
from mlops.core.repo import Repository
from mlops.monitor.history import HistoryStore


@dataclass(frozen=True)
class Due:
    environment: str
    model: str
    version: str
    schedule: str
    last_run: str | None

    def to_dict(self) -> dict[str, str]:
        return {"env": self.environment, "model": self.model, "version": self.version}


def pinned_pairs(repo: Repository, env: str | None = None, model: str | None = None) -> list[tuple[str, str, str]]:
    """(environment, model, version) of every pin, in promotion order."""
    envs = [env] if env else (repo.promotion_order() or sorted(repo.environments))
    pairs = []
    for name in envs:
        spec = repo.require_environment(name).spec
        for m in sorted(spec.pins):
            pin = spec.pin(m)
            if pin is not None and (model is None or m == model):
                pairs.append((name, m, pin.version))
    return pairs


def due_pairs(repo: Repository, forge: Forge, now: datetime, base: str, *, env: str | None = None,
              model: str | None = None) -> list[Due]:
    due = []
    for name, m, version in pinned_pairs(repo, env, model):
        schedule = repo.model(m).monitoring.schedule
        branch = repo.environment(name).monitoring.state_branch
        _, history = HistoryStore(forge, branch, base).load(name, m)
        last = history.runs[-1].at if history.runs else None
        when = datetime.fromisoformat(last.replace("Z", "+00:00")) if last else None
        if cron.due(schedule, when, now):
            due.append(Due(name, m, version, schedule, last))
    return due
