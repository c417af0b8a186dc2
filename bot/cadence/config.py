"""Config section ``calendar:`` (placeholder; the cadence feature owns this file)."""

from __future__ import annotations

from bot.configbase import Strict


class CalendarConfig(Strict):
    timezone: str | None = None
