"""Cron schedules as GitHub Actions reads them: parsing, the last firing, and when a model is due."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mlops.core import cron

NOW = datetime(2026, 12, 3, 13, 5, 30, tzinfo=UTC)  # a Thursday


@pytest.mark.parametrize(("expr", "fired"), [
    ("17 */6 * * *", datetime(2026, 12, 3, 12, 17, tzinfo=UTC)),
    ("41 */4 * * *", datetime(2026, 12, 3, 12, 41, tzinfo=UTC)),
    ("*/15 * * * *", datetime(2026, 12, 3, 13, 0, tzinfo=UTC)),
    ("5 13 * * *", datetime(2026, 12, 3, 13, 5, tzinfo=UTC)),  # this very minute counts
    ("0 9 * * 1", datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),  # Mondays
    ("0 0 1 1 *", datetime(2026, 1, 1, 0, 0, tzinfo=UTC)),
    ("30 8 1-7 * 1", datetime(2026, 12, 3, 8, 30, tzinfo=UTC)),  # day 1-7 OR Monday: cron's rule
    ("0 12 * 2-11/3 *", datetime(2026, 11, 30, 12, 0, tzinfo=UTC)),
    ("0,30 22 * * *", datetime(2026, 12, 2, 22, 30, tzinfo=UTC)),
])
def test_last_fire(expr: str, fired: datetime) -> None:
    assert cron.last_fire(expr, NOW) == fired


def test_a_schedule_that_never_fires_within_a_year() -> None:
    assert cron.last_fire("0 0 30 2 *", NOW) is None  # 30 February
    assert not cron.due("0 0 30 2 *", None, NOW)


def test_due_since_the_last_run() -> None:
    assert cron.due("17 */6 * * *", None, NOW)  # never run
    assert cron.due("17 */6 * * *", datetime(2026, 12, 3, 6, 20, tzinfo=UTC), NOW)  # fired at 12:17 since
    assert not cron.due("17 */6 * * *", datetime(2026, 12, 3, 12, 20, tzinfo=UTC), NOW)  # ran after it fired
    # a wake-up that was skipped (runner queue) still finds the firing it missed
    assert cron.due("17 */6 * * *", datetime(2026, 12, 2, 23, 0, tzinfo=UTC), NOW)


@pytest.mark.parametrize(("expr", "message"), [
    ("61 * * * *", "'61' is outside 0-59"),
    ("0 24 * * *", "'24' is outside 0-23"),
    ("0 0 0 * *", "'0' is outside 1-31"),
    ("0 0 * 13 *", "'13' is outside 1-12"),
    ("0 0 * * 7", "'7' is outside 0-6"),
    ("0 5-1 * * *", "'5-1' is outside 0-23"),
    ("*/0 * * * *", "'*/0' is outside 0-59"),
    ("0 0 * *", "expected five fields"),
])
def test_bad_schedules(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cron.parse(expr)


def test_the_spec_refuses_a_schedule_out_of_range() -> None:
    from pydantic import ValidationError

    from mlops.core.spec.model import Monitoring

    with pytest.raises(ValidationError, match=r"'61 \* \* \* \*' is not a cron schedule \('61' is outside 0-59\)"):
        Monitoring(schedule="61 * * * *")
