"""Reactions are approval votes on plan messages (counted, refused or revoked)."""

from __future__ import annotations

import logging
from typing import Any

from bot.approvals import event_order
from bot.messages import message_key
from handlers.after import once_per_event

log = logging.getLogger(__name__)


def _on_reaction(body: dict, event: dict, context: Any, added: bool) -> None:
    item = event.get("item") or {}
    if not isinstance(item, dict) or item.get("type") != "message":
        return
    svc = context["svc"]
    user, channel = event.get("user", ""), item.get("channel", "")
    bot = context.get("bot_user_id")
    # The core knows its messages by outbox key (see bot/outbox.py), Slack by ts.
    ts = message_key(svc, channel, str(item.get("ts", "")))
    state = svc.approvals.react(
        channel=channel, ts=ts, user=user, reaction=event.get("reaction", ""),
        added=added, order=event_order(body.get("event_time"), event.get("event_ts")),
        on_bot_message=not bot or event.get("item_user") in (None, bot))
    if state is not None and state.refusal:
        # Ignored as a vote, but the person deserves to know why their reaction doesn't count.
        try:
            svc.client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=item.get("ts"),
                text=f"Your :{event.get('reaction')}: on {state.request.evidence_id} "
                     f"was not counted: {state.refusal}.")
        except Exception:  # best effort: the refusal is already audited
            log.warning("could not tell %s why their vote was refused", user)


def register(app: Any) -> None:
    """Listen to ``reaction_added`` / ``reaction_removed``."""

    @app.event("reaction_added")
    @once_per_event
    def reaction_added(body: dict, event: dict, context: Any) -> None:
        _on_reaction(body, event, context, True)

    @app.event("reaction_removed")
    @once_per_event
    def reaction_removed(body: dict, event: dict, context: Any) -> None:
        _on_reaction(body, event, context, False)
