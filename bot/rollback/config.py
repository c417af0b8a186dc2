"""Config section ``rollback:`` (placeholder; the rollback feature owns this file)."""

from __future__ import annotations

from bot.configbase import Strict


class RollbackConfig(Strict):
    oncall: tuple[str, ...] = ()
