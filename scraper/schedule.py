"""When a source is due: cron expressions (croniter) or plain intervals ("30s", "15m", "6h", "1d").

Pure: times come in as arguments (`now`, the last run's start), so `kirinuki crawl --due` and the
long-running `kirinuki schedule` make the same decision from the same state, and tests need no
clock. Cron expressions are read by croniter rather than by hand (ranges, steps, names, `@daily`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.I)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: str) -> timedelta:
    """"30s" | "15m" | "6h" | "1d" | "2w" -> timedelta; ValueError naming the accepted forms."""
    m = _DURATION.match(value) if isinstance(value, str) else None
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"not a duration: {value!r} (use e.g. \"30s\", \"15m\", \"6h\", \"1d\")")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2).lower()])


@dataclass(frozen=True, slots=True)
class Schedule:
    """A cron expression (`cron`) or a fixed interval after the last run's start (`every`)."""

    text: str
    every: timedelta | None = None
    cron: str | None = None

    def next_after(self, last: datetime) -> datetime:
        """The first slot after a run that started at `last` (aware datetimes, UTC)."""
        if self.every is not None:
            return last + self.every
        from croniter import croniter

        return croniter(self.cron, last.astimezone(UTC)).get_next(datetime)

    def is_due(self, last: datetime | None, now: datetime) -> bool:
        return last is None or self.next_after(last) <= now


def parse_schedule(value: str) -> Schedule:
    """An interval ("15m") or a cron expression ("*/30 * * * *", "@hourly"); ValueError if neither."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a schedule must be a cron expression or an interval like \"15m\"")
    if _DURATION.match(value):
        return Schedule(value, every=parse_duration(value))
    from croniter import croniter

    expr = " ".join(value.split())
    if not croniter.is_valid(expr):
        raise ValueError(f"not a cron expression or interval: {value!r} "
                         "(e.g. \"*/30 * * * *\", \"@daily\", \"15m\", \"6h\")")
    return Schedule(value, cron=expr)


def parse_time(value: str | None) -> datetime | None:
    """A stored UTC ISO time -> aware datetime (None stays None)."""
    if not value:
        return None
    t = datetime.fromisoformat(value)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def due(schedules: Mapping[str, Schedule | None], last_started: Mapping[str, str],
        now: datetime) -> list[str]:
    """Names due now: never run, past their slot, or with no schedule at all (always due)."""
    return [name for name, sched in schedules.items()
            if sched is None or sched.is_due(parse_time(last_started.get(name)), now)]


def next_due(schedules: Mapping[str, Schedule], last_started: Mapping[str, str],
             names: Iterable[str] | None = None) -> tuple[datetime | None, str | None]:
    """The earliest next slot among `names` (default all) and its source; (None, None) if none."""
    best: tuple[datetime | None, str | None] = (None, None)
    for name in names if names is not None else schedules:
        last = parse_time(last_started.get(name))
        when = datetime.min.replace(tzinfo=UTC) if last is None else schedules[name].next_after(last)
        if best[0] is None or when < best[0]:
            best = (when, name)
    return best
