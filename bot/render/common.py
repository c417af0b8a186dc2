"""Block Kit building blocks shared by every feature, and Block Kit -> plain text.

``blocks_to_text`` is what the console prints and what golden files hold, so a rendered
message reads the same in tests, in the console and (roughly) in Slack.
"""

from __future__ import annotations

from typing import Any

MAX_SECTION = 2900  # Slack's section text limit is 3000 characters


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION]}}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:MAX_SECTION]}]}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in pairs[:10]]}


def button(text: str, action_id: str, value: str = "", style: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": text},
                         "action_id": action_id, "value": value or action_id}
    if style:
        b["style"] = style
    return b


def actions(block_id: str, elements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "actions", "block_id": block_id, "elements": elements}


def checkboxes(block_id: str, action_id: str, options: list[tuple[str, str]],
               checked: set[str]) -> dict[str, Any]:
    """An actions block with one checkbox group; ``options`` are (value, label)."""
    opts = [{"text": {"type": "mrkdwn", "text": label}, "value": value}
            for value, label in options]
    el: dict[str, Any] = {"type": "checkboxes", "action_id": action_id, "options": opts}
    initial = [o for o in opts if o["value"] in checked]
    if initial:
        el["initial_options"] = initial
    return {"type": "actions", "block_id": block_id, "elements": [el]}


def user(uid: str) -> str:
    """Mention a user (``<@U..>``) or a group handle as is."""
    return uid if uid.startswith("@") else f"<@{uid}>"


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return str(obj or "")


def blocks_to_text(blocks: list[dict[str, Any]] | None, fallback: str = "") -> str:
    """Render Block Kit as readable plain text (console output, golden files)."""
    if not blocks:
        return fallback
    out: list[str] = []
    for b in blocks:
        t = b.get("type")
        if t == "header":
            out.append(f"== {_text_of(b.get('text'))} ==")
        elif t == "section":
            if b.get("text"):
                out.append(_text_of(b["text"]))
            for f in b.get("fields") or []:
                out.append("  " + _text_of(f).replace("\n", ": ", 1))
            acc = b.get("accessory")
            if acc and acc.get("type") == "button":
                out.append(f"  [{_text_of(acc.get('text'))}]")
        elif t == "context":
            out.append("  ".join(_text_of(e) for e in b.get("elements", [])))
        elif t == "divider":
            out.append("-" * 40)
        elif t in ("actions", "input"):
            elements = b.get("elements") or ([b["element"]] if b.get("element") else [])
            line = []
            for e in elements:
                if e.get("type") == "button":
                    line.append(f"[{_text_of(e.get('text'))}]")
                elif e.get("type") == "checkboxes":
                    on = {o["value"] for o in e.get("initial_options") or []}
                    for o in e.get("options", []):
                        mark = "x" if o["value"] in on else " "
                        out.append(f"  [{mark}] {_text_of(o.get('text'))}")
                else:
                    line.append(f"<{e.get('type')}>")
            if line:
                out.append("  " + " ".join(line))
        elif t == "rich_text":
            out.append(fallback)
        else:
            out.append(fallback)
    return "\n".join(s for s in out if s is not None)
