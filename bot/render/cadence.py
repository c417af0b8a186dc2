"""Block Kit and text rendering for the release calendar."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.cadence import calendar as calmod
from bot.cadence.config import CalendarConfig
from bot.render.common import context, header, section

LABEL = {"freeze": "Feature freeze", "rc": "Release candidate", "release": "Release"}


def label(o: calmod.Occurrence) -> str:
    """Human name of an occurrence."""
    return LABEL.get(o.name, o.name) if o.kind == "milestone" else f"Reminder {o.name}"


def status_line(cal: CalendarConfig, now: datetime) -> str:
    """``Cycle 7 (minor), week 2 of 2: stabilization week`` or similar."""
    st = calmod.status(cal, now)
    if st.cycle < 1:
        return f"Before the first cycle (starts {cal.cycle_start})"
    stab = "stabilization week: yes" if st.stabilization else "stabilization week: no"
    skip = " (holiday week, skipped)" if st.skipped else ""
    return (f"Cycle {st.cycle} ({st.kind}) since {st.cycle_start}, week {st.week} of "
            f"{cal.cycle_weeks}{skip}, {stab}")


def lines(cal: CalendarConfig, occ: list[calmod.Occurrence], now: datetime) -> list[str]:
    """One line per occurrence; the current cycle's are marked with ``*``."""
    cur = calmod.status(cal, now).cycle
    out = []
    for o in occ:
        mark = "*" if o.cycle == cur else " "
        out.append(f"{mark} {o.when.strftime('%a %Y-%m-%d %H:%M %Z')}  cycle {o.cycle} "
                   f"({calmod.release_kind(cal, o.cycle)})  {label(o)}")
    return out


def calendar_text(cal: CalendarConfig, occ: list[calmod.Occurrence], now: datetime) -> str:
    """Plain-text calendar (CLI and message fallback)."""
    head = [f"Release calendar ({cal.timezone})", status_line(cal, now)]
    body = lines(cal, occ, now) or ["(nothing scheduled)"]
    return "\n".join(head + body + ["* = current cycle"])


def calendar_blocks(cal: CalendarConfig, occ: list[calmod.Occurrence],
                    now: datetime) -> list[dict[str, Any]]:
    """Block Kit for ``/release calendar``."""
    body = "\n".join(("\u25b6 " if ln[0] == "*" else "\u2022 ") + ln[2:]
                     for ln in lines(cal, occ, now)) or "_nothing_"
    return [header(f"Release calendar ({cal.timezone})"), section(status_line(cal, now)),
            section(body), context("\u25b6 = current cycle")]
