"""``relbot calendar [--from DATE] [--weeks N] [--format text|yaml|ics]``."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, time, timedelta
from typing import Any

import yaml

from bot.cadence import calendar as calmod
from bot.cadence.ics import to_ics
from bot.cadence.loader import effective
from bot.clock import SystemClock
from bot.config import load_config
from bot.errors import RelbotError
from bot.render.cadence import calendar_text, label


def cmd_calendar(config_path: str, start: date | None, weeks: int, fmt: str,
                 now: datetime | None = None) -> str:
    """The calendar from ``start`` (default today) for ``weeks`` weeks, as text/yaml/ics."""
    config = load_config(config_path)
    cal = effective(config)
    if cal is None:
        raise RelbotError("no calendar: section configured in " + config_path)
    now = now or SystemClock().now()
    zone = calmod.tz(cal)
    begin = (datetime.combine(start, time(0), tzinfo=zone) if start
             else now.astimezone(zone))
    occ = calmod.occurrences(cal, begin, begin + timedelta(weeks=weeks))
    if fmt == "ics":
        return to_ics(occ, {o.key: label(o) for o in occ}, now)
    if fmt == "yaml":
        return yaml.safe_dump({"timezone": cal.timezone, "events": [
            {"when": o.when.isoformat(), "kind": o.kind, "name": o.name, "label": label(o),
             "cycle": o.cycle, "release_kind": calmod.release_kind(cal, o.cycle),
             "stabilization": calmod.is_stabilization(cal, o.when.date())}
            for o in occ]}, sort_keys=False)
    return calendar_text(cal, occ, begin)


def _run(args: Any) -> int:
    try:
        out = cmd_calendar(args.config, args.start, args.weeks, args.format)
    except RelbotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(out if out.endswith("\n") else out + "\n")
    return 0


def register(subparsers: Any) -> None:
    """Add ``calendar`` to the root CLI."""
    p = subparsers.add_parser("calendar", help="print the release calendar")
    p.add_argument("--config", default=argparse.SUPPRESS, help="config file")
    p.add_argument("--db", default=argparse.SUPPRESS, help="SQLite file (unused)")
    p.add_argument("--from", dest="start", type=date.fromisoformat, default=None,
                   help="first day (YYYY-MM-DD, default today)")
    p.add_argument("--weeks", type=int, default=8, help="how many weeks (default 8)")
    p.add_argument("--format", choices=("text", "yaml", "ics"), default="text")
    p.set_defaults(func=_run)



