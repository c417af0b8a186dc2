"""Reactions are approval votes on plan messages (counted, refused or revoked)."""

from __future__ import annotations

from typing import Any


def _on_reaction(event: dict, context: Any, added: bool) -> None:
    item = event.get("item") or {}
    if item.get("type") != "message":
        return
    svc = context["svc"]
    svc.approvals.react(channel=item.get("channel", ""), ts=item.get("ts", ""),
                        user=event.get("user", ""), reaction=event.get("reaction", ""),
                        added=added)


def register(app: Any) -> None:
    """Listen to ``reaction_added`` / ``reaction_removed``."""

    @app.event("reaction_added")
    def reaction_added(ack: Any, event: dict, context: Any) -> None:
        ack()
        _on_reaction(event, context, True)

    @app.event("reaction_removed")
    def reaction_removed(ack: Any, event: dict, context: Any) -> None:
        ack()
        _on_reaction(event, context, False)
