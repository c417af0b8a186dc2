"""Pure calendar arithmetic: cycles, stabilization weeks, milestones, reminder occurrences.

Every datetime is aware and built in the calendar's timezone from local wall-clock times,
so DST changes never move a milestone's local time (zoneinfo does the offsets).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.cadence.config import WEEKDAYS, CalendarConfig, Milestone, Reminder

MILESTONES = ("freeze", "rc", "release")


@dataclass(frozen=True)
class Occurrence:
    """One dated event: a milestone (freeze/rc/release) or a reminder."""

    kind: str            # "milestone" | "reminder"
    name: str            # milestone name or reminder id
    cycle: int
    when: datetime       # aware, calendar tz
    text: str = ""
    channel: str | None = None

    @property
    def key(self) -> str:
        """Stable identity, e.g. ``reminder:freeze-eve:2026-01-11T15:00``."""
        return f"{self.kind}:{self.name}:{self.when.strftime('%Y-%m-%dT%H:%M')}"


def tz(cal: CalendarConfig) -> ZoneInfo:
    return ZoneInfo(cal.timezone or "UTC")


def _start(cal: CalendarConfig) -> date:
    assert cal.cycle_start is not None, "calendar.cycle_start is required"
    return cal.cycle_start


def cycle_of(cal: CalendarConfig, day: date) -> int:
    """Cycle number (1 = the one starting at cycle_start; 0 or less = before it)."""
    weeks = (day - _start(cal)).days // 7
    return weeks // cal.cycle_weeks + 1


def cycle_start(cal: CalendarConfig, n: int) -> date:
    """The Monday that starts cycle ``n``."""
    return _start(cal) + timedelta(weeks=(n - 1) * cal.cycle_weeks)


def week_in_cycle(cal: CalendarConfig, day: date) -> int:
    """1-based week of ``day`` within its cycle."""
    return ((day - _start(cal)).days // 7) % cal.cycle_weeks + 1


def is_skipped(cal: CalendarConfig, day: date) -> bool:
    """True if ``day`` lies in a skipped (holiday) week."""
    monday = day - timedelta(days=day.weekday())
    return monday in set(cal.skip)


def is_stabilization(cal: CalendarConfig, day: date) -> bool:
    """True if ``day`` is in the stabilization week of its cycle (and not skipped)."""
    return (day >= _start(cal) and week_in_cycle(cal, day) == cal.stabilization_week
            and not is_skipped(cal, day))


def release_kind(cal: CalendarConfig, n: int) -> str:
    """``major`` for the first cycle starting in each quarter (major_every=quarter), else minor."""
    if cal.major_every == "never":
        return "minor"
    this, prev = cycle_start(cal, n), cycle_start(cal, n - 1)
    return "major" if (this.month - 1) // 3 != (prev.month - 1) // 3 else "minor"


def _local(cal: CalendarConfig, day: date, hhmm: str) -> datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    naive = datetime.combine(day, time(h, m))
    return naive.replace(tzinfo=tz(cal)).astimezone(tz(cal))


def milestone_at(cal: CalendarConfig, n: int, name: str) -> datetime | None:
    """When milestone ``name`` happens in cycle ``n`` (None if undefined or skipped)."""
    m: Milestone | None = getattr(cal, name, None)
    if m is None:
        return None
    day = cycle_start(cal, n) + timedelta(weeks=m.week - 1, days=WEEKDAYS.index(m.weekday))
    if is_skipped(cal, day):
        return None
    return _local(cal, day, m.time)


def reminder_at(cal: CalendarConfig, n: int, r: Reminder) -> datetime | None:
    """When reminder ``r`` fires for cycle ``n`` (None if its milestone is skipped)."""
    anchor = milestone_at(cal, n, r.milestone)
    if anchor is None:
        return None
    naive = anchor.replace(tzinfo=None)
    naive = naive - r.offset if r.before else naive + r.offset
    if r.time:
        h, m = (int(x) for x in r.time.split(":"))
        naive = naive.replace(hour=h, minute=m)
    return naive.replace(tzinfo=tz(cal)).astimezone(tz(cal))


def occurrences(cal: CalendarConfig, start: datetime, end: datetime,
                reminders: bool = True) -> list[Occurrence]:
    """Milestones (and reminders) with ``start <= when < end``, sorted by time."""
    first = max(1, cycle_of(cal, start.astimezone(tz(cal)).date()) - 1)
    last = cycle_of(cal, end.astimezone(tz(cal)).date()) + 1
    out: list[Occurrence] = []
    for n in range(first, last + 1):
        for name in MILESTONES:
            when = milestone_at(cal, n, name)
            if when is not None:
                out.append(Occurrence("milestone", name, n, when))
        if reminders:
            for r in cal.reminders:
                when = reminder_at(cal, n, r)
                if when is not None:
                    out.append(Occurrence("reminder", r.id, n, when, r.text, r.channel))
    return sorted((o for o in out if start <= o.when < end), key=lambda o: (o.when, o.name))


def upcoming(cal: CalendarConfig, now: datetime, count: int,
             reminders: bool = True) -> list[Occurrence]:
    """The next ``count`` occurrences at or after ``now``."""
    out: list[Occurrence] = []
    horizon = now
    while len(out) < count:
        nxt = horizon + timedelta(weeks=cal.cycle_weeks * 4)
        out += occurrences(cal, horizon, nxt, reminders)
        horizon = nxt
        if horizon - now > timedelta(weeks=520):
            break
    return out[:count]


@dataclass(frozen=True)
class Status:
    """Where ``now`` sits in the calendar."""

    cycle: int
    week: int
    stabilization: bool
    skipped: bool
    kind: str
    cycle_start: date


def status(cal: CalendarConfig, now: datetime) -> Status:
    """Current cycle, week and stabilization flag at ``now``."""
    day = now.astimezone(tz(cal)).date()
    n = cycle_of(cal, day)
    return Status(n, week_in_cycle(cal, day) if n >= 1 else 0, is_stabilization(cal, day),
                  is_skipped(cal, day), release_kind(cal, n), cycle_start(cal, n))
