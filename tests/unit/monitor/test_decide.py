"""The monitor's decisions: hysteresis, cooldown, an open retraining PR, rollback only of a recent promotion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mlops.core.spec.model import Actions, Monitoring, Performance
from mlops.monitor.decide import Context, decide, streak
from mlops.monitor.history import History, Run

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
CONFIG = Monitoring(hysteresis=2, cooldown_hours=24, performance=Performance(metric="accuracy"),
                    actions=Actions(retrain=True, rollback=True, rollback_within_hours=48))


def run(n: int, *, drift: str = "no drift", performance: str = "ok", version: str = "v2", acted: str | None = None,
        hours_ago: float = 0) -> Run:
    at = (NOW - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Run(at=at, version=version, situation=f"s{n}", rows=1000, drift=drift, performance=performance,
               acted=acted)


def history(*runs: Run) -> History:
    return History("dev", "m", runs)


def test_a_good_window_does_nothing() -> None:
    assert decide(history(), run(1), CONFIG, Context(NOW)).action == "none"


def test_one_drifting_window_waits_for_the_second() -> None:
    d = decide(history(run(1)), run(2, drift="drift"), CONFIG, Context(NOW))
    assert d.action == "wait" and "1 of the 2 consecutive windows" in d.reason


def test_two_drifting_windows_in_a_row_retrain() -> None:
    d = decide(history(run(1, drift="drift")), run(2, drift="drift"), CONFIG, Context(NOW))
    assert d.action == "retrain" and "drift in 2 consecutive windows" in d.reason


def test_a_good_window_between_breaks_the_streak() -> None:
    h = history(run(1, drift="drift"), run(2), run(3, drift="drift"))
    assert streak(h, run(4, drift="drift")) == 2
    assert decide(history(run(1, drift="drift"), run(2)), run(3, drift="drift"), CONFIG, Context(NOW)).action == "wait"


def test_windows_of_another_version_do_not_count() -> None:
    h = history(run(1, drift="drift", version="v1"))
    assert decide(h, run(2, drift="drift"), CONFIG, Context(NOW)).action == "wait"


def test_never_while_a_retraining_pr_is_open() -> None:
    d = decide(history(run(1, drift="drift")), run(2, drift="drift"), CONFIG, Context(NOW, open_retrain_pr=7))
    assert d.action == "wait" and "retraining PR #7 is already open" in d.reason


def test_cooldown_after_acting() -> None:
    h = history(run(1, drift="drift", acted="retraining PR #3", hours_ago=5), run(2, drift="drift"))
    d = decide(h, run(3, drift="drift"), CONFIG, Context(NOW))
    assert d.action == "wait" and "cooling down after retraining PR #3 until 2026-12-04 07:00" in d.reason
    h = history(run(1, drift="drift", acted="retraining PR #3", hours_ago=30), run(2, drift="drift"))
    assert decide(h, run(3, drift="drift"), CONFIG, Context(NOW)).action == "retrain"


def test_worse_live_performance_after_a_recent_promotion_rolls_back() -> None:
    ctx = Context(NOW, promoted_at=NOW - timedelta(hours=3), previous="v1", previous_better=True)
    h = history(run(1, performance="worse"))
    d = decide(h, run(2, performance="worse"), CONFIG, ctx)
    assert d.action == "rollback" and "v1 did better" in d.reason


def test_rollback_needs_a_recent_promotion_a_better_predecessor_and_the_policy() -> None:
    h = history(run(1, performance="worse"))
    old = Context(NOW, promoted_at=NOW - timedelta(hours=72), previous="v1", previous_better=True)
    assert decide(h, run(2, performance="worse"), CONFIG, old).action == "retrain"
    worse_before = Context(NOW, promoted_at=NOW - timedelta(hours=3), previous="v1", previous_better=False)
    assert decide(h, run(2, performance="worse"), CONFIG, worse_before).action == "retrain"
    first = Context(NOW, promoted_at=NOW - timedelta(hours=3), previous=None, previous_better=False)
    assert decide(h, run(2, performance="worse"), CONFIG, first).action == "retrain"
    no_rollback = CONFIG.model_copy(update={"actions": Actions(retrain=True, rollback=False)})
    recent = Context(NOW, promoted_at=NOW - timedelta(hours=3), previous="v1", previous_better=True)
    assert decide(h, run(2, performance="worse"), no_rollback, recent).action == "retrain"


def test_drift_with_worse_performance_retrains_the_old_version_saw_the_same_old_data() -> None:
    ctx = Context(NOW, promoted_at=NOW - timedelta(hours=3), previous="v1", previous_better=True)
    h = history(run(1, drift="drift", performance="worse"))
    d = decide(h, run(2, drift="drift", performance="worse"), CONFIG, ctx)
    assert d.action == "retrain" and "drift and live performance below the record" in d.reason


def test_an_open_retraining_pr_does_not_hold_back_a_rollback() -> None:
    ctx = Context(NOW, open_retrain_pr=4, promoted_at=NOW - timedelta(hours=1), previous="v1", previous_better=True)
    assert decide(history(run(1, performance="worse")), run(2, performance="worse"), CONFIG, ctx).action == \
        "rollback"


def test_the_cooldown_is_per_version() -> None:
    h = history(run(1, drift="drift", acted="retraining PR #3", version="v1", hours_ago=1), run(2, drift="drift"))
    assert decide(h, run(3, drift="drift"), CONFIG, Context(NOW)).action == "retrain"


def test_drift_alone_never_rolls_back() -> None:
    ctx = Context(NOW, promoted_at=NOW - timedelta(hours=3), previous="v1", previous_better=True)
    assert decide(history(run(1, drift="drift")), run(2, drift="drift"), CONFIG, ctx).action == "retrain"


def test_no_action_allowed_reports_only() -> None:
    quiet = CONFIG.model_copy(update={"actions": Actions(retrain=False, rollback=False)})
    d = decide(history(run(1, drift="drift")), run(2, drift="drift"), quiet, Context(NOW))
    assert d.action == "none" and "allow no action" in d.reason


def test_insufficient_data_is_not_a_bad_window() -> None:
    d = decide(history(run(1, drift="drift")), run(2, drift="insufficient data"), CONFIG, Context(NOW))
    assert d.action == "none" and not d.acts
