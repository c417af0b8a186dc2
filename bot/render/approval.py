"""Approve / Withdraw buttons for messages that collect approvals (beside reactions)."""

from __future__ import annotations

from typing import Any

from bot.render.common import MAX_SECTION, actions, button, section

APPROVE = "approval:approve"
WITHDRAW = "approval:withdraw"


def approval_buttons(request_id: str, what_runs: str) -> dict[str, Any]:
    """An actions block: Approve (with a confirm dialog naming what will run) and Withdraw.
    The value is the request id; the click is bound to the message it was made on."""
    approve = button("Approve", APPROVE, request_id, style="primary")
    text = f"Your approval counts towards running {what_runs}."
    approve["confirm"] = {
        "title": {"type": "plain_text", "text": "Approve?"},
        "text": {"type": "mrkdwn", "text": text if len(text) <= 300 else text[:297] + "..."},
        "confirm": {"type": "plain_text", "text": "Approve"},
        "deny": {"type": "plain_text", "text": "Cancel"}}
    return actions(f"approval:{request_id}", [approve, button("Withdraw", WITHDRAW,
                                                               request_id)])


def text_blocks(text: str) -> list[dict[str, Any]]:
    """``text`` as section blocks, split on line ends so none exceeds Slack's limit."""
    out: list[dict[str, Any]] = []
    chunk: list[str] = []
    size = 0
    for line in text.splitlines():
        if chunk and size + len(line) + 1 > MAX_SECTION:
            out.append(section("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        out.append(section("\n".join(chunk)))
    return out


def who_decided(votes: Any) -> str:
    """``<@U0BOB> by :white_check_mark: at ..., <@U0CAROL> by button at ...``."""
    return ", ".join(f"<@{v.user}> by {v.how() or 'reaction'} at {v.at}" for v in votes) \
        or "nobody yet"
