"""Approve / Withdraw buttons on approval messages: votes like reactions (``via: button``)."""

from __future__ import annotations

import logging
from typing import Any

from bot.messages import message_key
from bot.render.approval import APPROVE, WITHDRAW
from handlers.after import acked

log = logging.getLogger(__name__)


def _on_click(body: dict, context: Any, approve: bool) -> None:
    svc = context["svc"]
    user = body["user"]["id"]
    container = body.get("container") or {}
    channel, ts = container.get("channel_id", ""), container.get("message_ts", "")
    request_id = str(body["actions"][0].get("value", ""))
    # the core knows its messages by outbox key, Slack by ts (as for reactions)
    state = svc.approvals.button(channel=channel, ts=message_key(svc, channel, ts), user=user,
                                 request_id=request_id, approve=approve)
    if state is None:
        why = "no approval is open on this message any more"
    elif state.refusal:
        why = state.refusal
    else:
        return  # counted or withdrawn: the message itself shows it
    what = "approval" if approve else "withdrawal"
    subject = f" on {state.request.evidence_id}" if state is not None else ""
    try:
        svc.client.chat_postEphemeral(channel=channel, user=user, thread_ts=ts or None,
                                      text=f"Your {what}{subject} was not counted: {why}.")
    except Exception:  # best effort: the refusal is audited (or nothing changed)
        log.warning("could not tell %s why their click did not count", user)


def register(app: Any) -> None:
    """Listen to the two buttons."""

    @app.action(APPROVE)
    @acked
    def on_approve(body: dict, context: Any) -> None:
        _on_click(body, context, True)

    @app.action(WITHDRAW)
    @acked
    def on_withdraw(body: dict, context: Any) -> None:
        _on_click(body, context, False)
