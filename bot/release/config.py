"""Config section ``releases:`` (placeholder; the release feature owns this file)."""

from __future__ import annotations

from bot.configbase import Strict


class ReleasesConfig(Strict):
    products: tuple[dict, ...] = ()
