"""``/release calendar [N]`` and the reminder job (scheduled at start-up)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot import lazy
from bot.errors import UsageError
from handlers.base import CommandContext, Reply, SubcommandSpec

if TYPE_CHECKING:
    from bot.cadence import calendar as calmod
    from bot.cadence import loader, reminders
    from bot.render import cadence as render
    from bot.services import Services
else:  # imported when the calendar is first used (bot/lazy.py)
    calmod, loader = lazy.module("bot.cadence.calendar"), lazy.module("bot.cadence.loader")
    reminders, render = lazy.module("bot.cadence.reminders"), lazy.module("bot.render.cadence")


def _calendar(ctx: CommandContext) -> Reply:
    cal = loader.effective(ctx.config)
    if cal is None:
        return Reply("No release calendar is configured (config section `calendar:`).")
    raw = ctx.cmd.arg(0, "8") or "8"
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise UsageError(f"N must be a number from 1 to 100, not {raw!r}")
    now = ctx.svc.clock.now()
    occ = calmod.upcoming(cal, now, int(raw))
    ctx.audit("cadence.calendar", "calendar", {"n": int(raw)})
    return Reply(render.calendar_text(cal, occ, now), render.calendar_blocks(cal, occ, now))


log = logging.getLogger(__name__)

RELEASE_SUBCOMMANDS: dict[str, SubcommandSpec] = {
    "calendar": SubcommandSpec(_calendar, "[N]", "the next N milestones and reminders",
                               permission=None),
}
SUBCOMMANDS: dict[str, SubcommandSpec] = {}


def register(app: Any) -> None:
    """No block actions of our own."""


def setup(svc: Services) -> None:
    """Register the reminder job, post missed ones within grace, schedule the next."""
    if getattr(svc, "scheduler", None) is not None:
        svc.scheduler.register("cadence.reminders", lazy.later("bot.cadence.reminders", "job"))
    try:
        if svc.config.current.calendar is None or loader.effective(svc.config.current) is None:
            return
    except Exception:  # noqa: BLE001 - check-config reports calendar errors
        return
    reminders.run_pending(svc)
    reminders.schedule_next(svc)
