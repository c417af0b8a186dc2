"""Block actions bound to the message they were clicked on.

A button or checkbox names its record in ``block_id``/``value``/``action_id``; those are
only trusted when they agree with the record the message itself belongs to
(``container.message_ts``). Anything else (a forged ``block_id`` naming another rollback, a
copied button) is refused and audited, and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from bot.messages import message_key

if TYPE_CHECKING:
    from bot.services import Services

Row = TypeVar("Row")


def clicker(body: dict) -> str:
    """The clicking user's id as text (a number in a hostile payload stays audit-able)."""
    user = body.get("user")
    return str(user.get("id", "")) if isinstance(user, dict) else str(user or "")


def bound_record(svc: Services, body: dict, kind: str, named: str,
                 by_message: Callable[[str, str], Row | None],
                 record_id: Callable[[Row], str]) -> Row | None:
    """The record of the message clicked on, when the action's ``named`` id is that record;
    otherwise None, after auditing ``action.refused`` and telling the user."""
    container = body.get("container") if isinstance(body.get("container"), dict) else {}
    channel, ts = str(container.get("channel_id", "")), str(container.get("message_ts", ""))
    # records hold the outbox's message key (bot/outbox.py), Slack sends its ts
    row = by_message(channel, message_key(svc, channel, ts)) if channel and ts else None
    if row is not None and record_id(row) == named:
        return row
    reason = (f"{named} is not the {kind} of this message ({record_id(row)})" if row is not None
              else f"the message clicked on is not a {kind} message")
    act = (body.get("actions") or [{}])[0]
    uid = clicker(body)
    svc.audit.append(uid, "action.refused", record_id(row) if row is not None else named, {
        "kind": kind, "named": named, "action_id": act.get("action_id"),
        "block_id": act.get("block_id"), "value": act.get("value"), "channel": channel,
        "message_ts": ts, "reason": reason})
    if channel and uid:
        svc.client.chat_postEphemeral(channel=channel, user=uid, text=(
            ":no_entry: That control does not belong to this message; nothing was changed."))
    return None
