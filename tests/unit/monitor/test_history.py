"""The monitor's history on the bot's branch: compare-and-swap writes, one entry per situation, races."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from mlops.adapters.forge import ForgeError
from mlops.adapters.forge.local import LocalForge
from mlops.monitor.history import KEEP, History, HistoryStore, Run, situation, state_path
from tests.helpers.git import git


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(remote))
    git(tmp_path, "clone", "--quiet", str(remote), str(work))
    git(work, "commit", "--quiet", "--allow-empty", "-m", "init")
    git(work, "push", "--quiet", "origin", "HEAD:main")
    return work


def run(key: str, drift: str = "drift") -> Run:
    return Run(at="2026-12-03T12:00:00Z", version="v1", situation=key, rows=500, drift=drift, drift_score=7.5,
               drifted=("pixel_3",), live_interval=(0.9, 0.95))


def append(r: Run):  # the store's change callback
    return lambda h: None if h.find(r.situation) else h.with_run(r)


def test_the_history_round_trips_through_the_branch(clone: Path) -> None:
    forge = LocalForge(clone)
    store = HistoryStore(forge, "mlops/monitor", git(clone, "rev-parse", "main"))
    assert store.load("dev", "m") == (None, History("dev", "m"))
    store.update("dev", "m", append(run("a")), "monitor: a")
    store.update("dev", "m", append(run("b", "no drift")), "monitor: b")
    tip, history = store.load("dev", "m")
    assert [r.situation for r in history.runs] == ["a", "b"] and history.runs[0] == run("a")
    assert git(clone, "log", "--format=%s", "origin/mlops/monitor", "--", state_path("dev", "m")).splitlines() == \
        ["monitor: b", "monitor: a"]
    assert forge.is_bot_commit(tip or "")


def test_the_same_situation_is_recorded_once(clone: Path) -> None:
    store = HistoryStore(LocalForge(clone), "mlops/monitor", git(clone, "rev-parse", "main"))
    store.update("dev", "m", append(run("a")), "first")
    tip, _ = store.load("dev", "m")
    store.update("dev", "m", append(run("a")), "again")
    assert store.load("dev", "m")[0] == tip  # nothing committed


def test_concurrent_runs_both_land_without_losing_one(clone: Path) -> None:
    store = HistoryStore(LocalForge(clone), "mlops/monitor", git(clone, "rev-parse", "main"))
    threads = [threading.Thread(target=store.update, args=("dev", "m", append(run(k)), k)) for k in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.situation for r in store.load("dev", "m")[1].runs) == list("abcd")


def test_a_lost_race_reads_again_and_the_winner_decides(clone: Path) -> None:
    forge = LocalForge(clone)
    store = HistoryStore(forge, "mlops/monitor", git(clone, "rev-parse", "main"))
    store.update("dev", "m", append(run("a")), "a")
    calls = []

    def change(h: History) -> History | None:
        calls.append(len(h.runs))
        if len(calls) == 1:  # another run lands between this run's read and its write
            store.update("dev", "m", append(run("b")), "b")
        return None if h.find("b") else h.with_run(run("b"))

    store.update("dev", "m", change, "b, concurrently")
    assert calls == [1, 2] and [r.situation for r in store.load("dev", "m")[1].runs] == ["a", "b"]


def test_a_refusal_that_is_not_a_race_is_raised_at_once(clone: Path) -> None:
    forge = LocalForge(clone)
    attempts = []

    def refuse(*args: object, **kwargs: object) -> str:
        attempts.append(1)
        raise ForgeError("403 Resource not accessible by integration", 403)

    forge.commit_files = refuse  # type: ignore[method-assign]
    store = HistoryStore(forge, "mlops/monitor", git(clone, "rev-parse", "main"))
    with pytest.raises(ForgeError, match="403"):
        store.update("dev", "m", append(run("a")), "a")
    assert attempts == [1]


def test_the_history_keeps_the_newest_runs() -> None:
    h = History("dev", "m")
    for i in range(KEEP + 5):
        h = h.with_run(run(str(i)))
    assert len(h.runs) == KEEP and h.runs[0].situation == "5"


def test_a_corrupt_history_is_a_clear_error() -> None:
    with pytest.raises(ForgeError, match="not the JSON this tool writes"):
        History.loads("dev", "m", b"{not json")


def test_situations_depend_on_every_part() -> None:
    assert situation("v1", 1, 2) == situation("v1", 1, 2) != situation("v1", 1, 3) != situation("v2", 1, 2)
