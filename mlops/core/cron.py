"""Five-field cron schedules as GitHub Actions reads them (UTC; ``*``, lists, ranges, steps), pure.

The scheduled monitor workflow wakes up often; each model's ``monitoring.schedule`` decides whether it is
due: it is when the schedule fired since the model's last monitor run (so a delayed or skipped wake-up
never loses a due run, and an early one never runs a model twice for one firing).

Day-of-month and day-of-week follow cron's rule: when both are restricted a day matches either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))  # minute, hour, day of month, month, day of week
HORIZON = timedelta(days=366)


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day of month is "*"
    any_weekday: bool  # day of week is "*"

    def day_matches(self, when: datetime) -> bool:
        weekday = (when.weekday() + 1) % 7
        if self.any_day or self.any_weekday:
            return when.day in self.days and weekday in self.weekdays
        return when.day in self.days or weekday in self.weekdays


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            start, end = low, high
        elif "-" in span:
            a, b = span.split("-", 1)
            start, end = int(a), int(b)
        else:
            start = int(span)
            end = high if step_text else start
        if step < 1 or start < low or end > high or start > end:
            raise ValueError(f"{part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def parse(expr: str) -> Schedule:
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"{expr!r}: expected five fields like '17 */6 * * *'")
    minutes, hours, days, months, weekdays = (_field(f, lo, hi) for f, (lo, hi) in zip(fields, BOUNDS, strict=True))
    return Schedule(minutes, hours, days, months, weekdays, any_day=fields[2] == "*", any_weekday=fields[4] == "*")


def last_fire(expr: str, now: datetime) -> datetime | None:
    """The latest time at or before ``now`` (to the minute) when ``expr`` fired; None within a year."""
    s = parse(expr)
    t = now.replace(second=0, microsecond=0)
    stop = t - HORIZON
    while t > stop:
        if t.month not in s.months or not s.day_matches(t):
            t = t.replace(hour=23, minute=59) - timedelta(days=1)
            continue
        if t.hour not in s.hours:
            t = t.replace(minute=59) - timedelta(hours=1)
            continue
        minute = max((m for m in s.minutes if m <= t.minute), default=None)
        if minute is not None:
            return t.replace(minute=minute)
        t = t.replace(minute=59) - timedelta(hours=1)
    return None


def due(expr: str, last_run: datetime | None, now: datetime) -> bool:
    """Whether ``expr`` fired after ``last_run`` (never run: whether it fired at all in the last year)."""
    fired = last_fire(expr, now)
    return fired is not None and (last_run is None or fired > last_run)
