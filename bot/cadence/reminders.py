"""Post due reminders exactly once (SQLite claim), with a grace period for missed ones."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.cadence import calendar as calmod
from bot.cadence.config import CalendarConfig
from bot.cadence.loader import effective
from bot.clock import iso

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)
LOOKBACK = timedelta(days=7)


def release_facts(svc: Services) -> dict[str, str]:
    """Version/step/failing checks of the release in flight, read defensively."""
    facts = {"version": "the next release", "step": "not started", "failing_checks": "none",
             "approvers": "@release-managers"}
    try:
        approvers = getattr(svc.config.current, "approvers", None)
        if approvers:
            facts["approvers"] = ", ".join(str(a) for a in approvers)
    except Exception:  # noqa: BLE001 - optional
        pass
    from storage.cadence import active_releases, failing_checks

    rows = active_releases(svc.db)
    if rows:
        row = rows[0]
        facts["version"] = str(row.get("version", facts["version"]))
        facts["step"] = str(row.get("step", facts["step"]))
        failing = failing_checks(svc.db, int(row.get("id", 0)))
        facts["failing_checks"] = ", ".join(failing) if failing else "none"
    return facts


def fill(text: str, occ: calmod.Occurrence, cal: CalendarConfig, facts: dict[str, str]) -> str:
    """Fill ``{version} {kind} {cycle} {step} {failing_checks} {approvers} {date}``."""
    values = {**facts, "kind": calmod.release_kind(cal, occ.cycle), "cycle": str(occ.cycle),
              "date": occ.when.strftime("%a %d %b %Y %H:%M %Z")}
    out = text
    for k, v in values.items():
        out = out.replace("{" + k + "}", v)
    return out


def run_pending(svc: Services, now: datetime | None = None) -> list[str]:
    """Post every reminder due by ``now`` not yet handled; returns the keys posted.

    Due within ``grace`` -> posted once; older -> recorded as skipped (audited).
    Safe to call from any replica at any time: the SQLite claim makes it exactly-once.
    """
    from bot.messages import post_message

    cal = effective(svc.config.current)
    if cal is None or cal.cycle_start is None:
        return []
    now = now or svc.clock.now()
    store = svc.cadence
    posted: list[str] = []
    due = [o for o in calmod.occurrences(cal, now - LOOKBACK, now + timedelta(seconds=1))
           if o.kind == "reminder" and o.when <= now]
    for occ in due:
        if store.status(occ.key):
            continue
        if now - occ.when > cal.grace:
            if store.claim(occ.key, "skipped", iso(now)):
                svc.audit.append("relbot", "cadence.reminder.skipped", occ.key,
                                 {"due": iso(occ.when), "late": str(now - occ.when)})
            continue
        text = fill(occ.text, occ, cal, release_facts(svc))
        if calmod.is_stabilization(cal, occ.when.astimezone(calmod.tz(cal)).date()):
            from bot.release.freeze import active_notes  # only fixes: name the feat: commits
            text = "\n".join([text, *active_notes(svc)])
        channel = occ.channel or cal.channel or svc.config.current.channel
        if not store.claim(occ.key, "posted", iso(now),
                           then=lambda t=text, c=channel: post_message(svc, t, None, c)):
            continue   # another thread or replica has it
        svc.audit.append("relbot", "cadence.reminder", occ.key,
                         {"channel": channel, "text": text, "due": iso(occ.when)})
        posted.append(occ.key)
    return posted


def next_due(svc: Services, now: datetime | None = None) -> datetime | None:
    """When the next reminder fires after ``now``."""
    cal = effective(svc.config.current)
    if cal is None:
        return None
    now = now or svc.clock.now()
    nxt = [o for o in calmod.upcoming(cal, now + timedelta(seconds=1), 50) if o.kind == "reminder"]
    return nxt[0].when if nxt else None


def job(svc: Services, **_: Any) -> None:
    """Scheduler job: post what is due, then schedule the next occurrence."""
    run_pending(svc)
    schedule_next(svc)


def schedule_next(svc: Services) -> None:
    """Ask the persistent scheduler to wake us for the next reminder (if one exists)."""
    sched = getattr(svc, "scheduler", None)
    when = next_due(svc)
    if sched is None or when is None:
        return
    sched.add_once("cadence:reminders", when, "cadence.reminders")
