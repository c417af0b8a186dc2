"""/rollback subcommands (placeholder until the rollback feature lands)."""

from __future__ import annotations

from typing import Any

from handlers.base import SubcommandSpec

SUBCOMMANDS: dict[str, SubcommandSpec] = {}


def register(app: Any) -> None:
    """No Block Kit actions yet."""
