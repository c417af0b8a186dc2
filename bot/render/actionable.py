"""App Home: "What you can do now" — one section with a button per actionable item."""

from __future__ import annotations

from typing import Any

from bot.actionable import Actionable
from bot.render.common import MAX_SECTION, button, divider, section

HOME_APPROVE = "home:approve"
HOME_CONFIRM = "home:confirm"
LIMIT = 20  # buttons are blocks (a view holds 100): past this, say how many more


def actionable_blocks(items: list[Actionable], user: str) -> list[dict[str, Any]]:
    """Blocks for what ``user`` can act on now (a line saying so when nothing)."""
    blocks: list[dict[str, Any]] = [divider(), section(f"*What you can do now* (<@{user}>)")]
    if not items:
        blocks.append(section("Nothing is waiting on you."))
        return blocks
    for it in items[:LIMIT]:
        label, action = ("Approve", HOME_APPROVE) if it.kind == "approve" else \
            ("Confirm", HOME_CONFIRM)
        b = button(label, action, it.value, style="primary")
        verb = "approves" if it.kind == "approve" else "confirms"
        b["confirm"] = {"title": {"type": "plain_text", "text": f"{label}?"},
                        "text": {"type": "mrkdwn", "text": f"This {verb} {it.what}."[:300]},
                        "confirm": {"type": "plain_text", "text": label},
                        "deny": {"type": "plain_text", "text": "Cancel"}}
        blocks.append({**section(f"• {it.text}"[:MAX_SECTION]), "accessory": b})
    if len(items) > LIMIT:
        blocks.append(section(f"{LIMIT} of {len(items)} shown; the rest are on their "
                              "messages in the channel."))
    return blocks
