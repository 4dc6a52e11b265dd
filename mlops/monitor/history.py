"""The monitor's memory: every judged window per (environment, model), kept in git where people can audit it.

Hysteresis ("act after N drifting windows in a row"), the cooldown after acting and the trend chart all need
the verdicts of earlier scheduled runs. They live in one JSON file per pair, ``monitor/<env>/<model>.json``,
on the bot's branch ``monitoring.state_branch`` (default ``mlops/monitor``): ``git log mlops/monitor`` is
the audit trail, and nothing outside the repository has to be kept alive between runs.

Writes are compare-and-swap through the forge (:meth:`Forge.commit_files` refuses a branch that moved on):
a run reads the file and its commit, appends its run and commits on top of exactly that commit. Two runs that
overlap cannot both win; the loser reads again. A run whose window was already judged (the same version and
the same rows and labels: the same *situation*) is not appended again, and the run that finds its situation
already recorded takes no action — so the same situation, run twice or concurrently, yields one PR and one
issue.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from mlops.adapters.forge import Forge, ForgeError

STATE_DIR = "monitor"
KEEP = 400  # runs kept per pair: months of 6-hourly runs; older ones stay in the branch's history
ATTEMPTS = 6


@dataclass(frozen=True)
class Run:
    """One judged window of one pinned version."""

    at: str  # when the run judged it (UTC, ISO 8601)
    version: str
    situation: str  # digest of (version, the window's rows and labels): the same situation judged once
    rows: int  # predictions in the window
    drift: str  # "drift" | "no drift" | "insufficient data"
    drift_score: float | None = None  # −log10 of the smallest p-value over the tests: the trend chart's line
    drifted: tuple[str, ...] = ()
    labels: int = 0
    live: float | None = None  # the live metric on the labelled rows
    live_interval: tuple[float, float] | None = None
    performance: str = "not configured"  # "worse" | "ok" | "insufficient labels" | "not configured"
    incidents: tuple[str, ...] = ()  # data-quality fingerprints open in this window
    decision: str = "none"  # "none" | "wait" | "retrain" | "rollback"
    reason: str = ""
    acted: str | None = None  # what acting did (e.g. "retraining PR #4"), once it did

    @property
    def bad(self) -> bool:
        """A window that asks for action: drift, or live performance worse with confidence."""
        return self.drift == "drift" or self.performance == "worse"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["drifted"] = list(self.drifted)
        data["incidents"] = list(self.incidents)
        data["live_interval"] = list(self.live_interval) if self.live_interval else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Run:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["drifted"] = tuple(values.get("drifted") or ())
        values["incidents"] = tuple(values.get("incidents") or ())
        interval = values.get("live_interval")
        values["live_interval"] = (float(interval[0]), float(interval[1])) if interval else None
        return cls(**values)


def situation(version: str, *parts: object) -> str:
    """The identity of what a run judges: the version and what identifies its window (rows, labels, bounds)."""
    text = json.dumps([version, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class History:
    environment: str
    model: str
    runs: tuple[Run, ...] = field(default=())

    def find(self, key: str) -> Run | None:
        return next((r for r in reversed(self.runs) if r.situation == key), None)

    def of_version(self, version: str) -> list[Run]:
        return [r for r in self.runs if r.version == version]

    def with_run(self, run: Run) -> History:
        return replace(self, runs=(*self.runs, run)[-KEEP:])

    def replaced(self, run: Run) -> History:
        """The history with the run of ``run.situation`` replaced (recording what acting did)."""
        return replace(self, runs=tuple(run if r.situation == run.situation else r for r in self.runs))

    def dumps(self) -> bytes:
        data = {"environment": self.environment, "model": self.model, "runs": [r.to_dict() for r in self.runs]}
        return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode("utf-8")

    @classmethod
    def loads(cls, environment: str, model: str, data: bytes | None) -> History:
        if not data:
            return cls(environment, model)
        try:
            parsed = json.loads(data)
            runs = tuple(Run.from_dict(r) for r in parsed.get("runs", []))
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise ForgeError(f"the monitor history of {environment}/{model} is not the JSON this tool writes "
                             f"({type(exc).__name__}); expected it repaired on its branch") from None
        return cls(environment, model, runs)


def state_path(environment: str, model: str) -> str:
    return f"{STATE_DIR}/{environment}/{model}.json"


class HistoryStore:
    """The histories on the forge's ``branch``, written compare-and-swap (created from ``base`` when missing)."""

    def __init__(self, forge: Forge, branch: str, base: str) -> None:
        self.forge, self.branch, self.base = forge, branch, base

    def load(self, environment: str, model: str) -> tuple[str | None, History]:
        tip = self.forge.branch_tip(self.branch)
        data = None if tip is None else self.forge.read_file(tip, state_path(environment, model))
        return tip, History.loads(environment, model, data)

    def update(self, environment: str, model: str, change: Callable[[History], History | None],
               message: str) -> History:
        """Apply ``change`` to the latest history and commit it; on a lost race read again and retry.

        ``change`` returns None when there is nothing to write (e.g. the situation is already recorded).
        """
        for _ in range(ATTEMPTS):
            tip, history = self.load(environment, model)
            changed = change(history)
            if changed is None or changed == history:
                return history
            try:
                self.forge.commit_files(self.branch, {state_path(environment, model): changed.dumps()}, message,
                                        parent=tip or self.base)
            except ForgeError:
                if self.forge.branch_tip(self.branch) == tip:
                    raise  # not a lost race: the forge refused for another reason
                continue
            return changed
        raise ForgeError(f"the monitor history of {environment}/{model} kept moving ({ATTEMPTS} attempts); "
                         "another run is writing it — retry later")
