"""Config section ``syncs:`` (placeholder shape; the sync feature owns this file)."""

from __future__ import annotations

from typing import Literal

from bot.configbase import Strict


class SyncDef(Strict):
    name: str
    type: Literal["upstream", "downstream", "cross-repo", "config"]
