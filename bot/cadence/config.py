"""Config section ``calendar:``: cycle, milestones, holidays and reminders."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Literal

from pydantic import field_validator, model_validator

from bot.configbase import Duration, Strict, check_timezone

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _check_time(v: str) -> str:
    if not _TIME.match(str(v)):
        raise ValueError(f"must be a time HH:MM, not {v!r}")
    return str(v)


class Milestone(Strict):
    """A point in each cycle: weekday of a cycle week at a local time."""

    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                     "sunday"]
    week: int = 1
    time: str = "09:00"

    _t = field_validator("time")(classmethod(lambda cls, v: _check_time(v)))

    @field_validator("week")
    @classmethod
    def _week(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"must be 1 or more, not {v}")
        return v


class Reminder(Strict):
    """A message posted relative to a milestone (``at`` it or ``before`` it)."""

    id: str
    at: str | None = None
    before: str | None = None
    offset: Duration = timedelta(0)
    time: str | None = None
    text: str
    channel: str | None = None

    @field_validator("time")
    @classmethod
    def _time(cls, v: str | None) -> str | None:
        return None if v is None else _check_time(v)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not re.match(r"^[a-z0-9][a-z0-9_-]*$", v):
            raise ValueError(f"must be lower-case letters, digits, - or _, not {v!r}")
        return v

    @model_validator(mode="after")
    def _one_anchor(self) -> Reminder:
        if (self.at is None) == (self.before is None):
            raise ValueError(f"reminder {self.id!r} needs exactly one of 'at' or 'before'")
        return self

    @property
    def milestone(self) -> str:
        return self.at or self.before or ""


class CalendarConfig(Strict):
    """The release calendar (see docs/cadence.md)."""

    file: str | None = None
    timezone: str | None = None
    cycle_start: date | None = None
    cycle_weeks: int = 2
    stabilization_week: int = 2
    major_every: Literal["quarter", "never"] = "quarter"
    freeze: Milestone = Milestone(weekday="monday", week=2, time="09:00")
    rc: Milestone | None = Milestone(weekday="tuesday", week=2, time="10:00")
    release: Milestone = Milestone(weekday="thursday", week=2, time="14:00")
    skip: list[date] = []
    reminders: list[Reminder] = []
    grace: Duration = timedelta(hours=1)
    channel: str | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return v if v is None else check_timezone(v)

    @field_validator("cycle_start")
    @classmethod
    def _monday(cls, v: date | None) -> date | None:
        if v is not None and v.weekday() != 0:
            raise ValueError(f"cycle_start must be a Monday, {v} is a {WEEKDAYS[v.weekday()]}")
        return v

    @field_validator("skip")
    @classmethod
    def _skip(cls, v: list[date]) -> list[date]:
        for d in v:
            if d.weekday() != 0:
                raise ValueError(f"skip: {d} is not a Monday (list week-start dates)")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> CalendarConfig:
        if self.file is not None:
            return self
        if self.cycle_weeks < 1:
            raise ValueError(f"cycle_weeks must be 1 or more, not {self.cycle_weeks}")
        if not 1 <= self.stabilization_week <= self.cycle_weeks:
            raise ValueError(f"stabilization_week {self.stabilization_week} is outside "
                             f"the {self.cycle_weeks}-week cycle")
        for name in ("freeze", "rc", "release"):
            m = getattr(self, name)
            if m is not None and m.week > self.cycle_weeks:
                raise ValueError(f"{name}.week {m.week} is outside the "
                                 f"{self.cycle_weeks}-week cycle")
        names = {"freeze", "release"} | ({"rc"} if self.rc else set())
        seen: set[str] = set()
        for r in self.reminders:
            if r.milestone not in names:
                raise ValueError(f"reminders.{r.id}: unknown milestone {r.milestone!r} "
                                 f"(one of {', '.join(sorted(names))})")
            if r.id in seen:
                raise ValueError(f"reminders: duplicate id {r.id!r}")
            seen.add(r.id)
        return self
