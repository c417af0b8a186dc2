"""Modals in the Slack stand-in: what ``views.open``/``views.update`` showed, and the state a
person types into one (the ``view.state.values`` Slack sends with each interaction)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Modal:
    """One opened modal; ``number`` is its 1-based position (console ``submit N``)."""

    number: int
    id: str
    user: str
    view: dict[str, Any]
    hash: str = "h1"
    open: bool = True
    typed: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def inputs(self) -> dict[str, dict[str, Any]]:
        """``block_id -> element`` of the input blocks."""
        return {b["block_id"]: b["element"] for b in self.view.get("blocks", [])
                if b.get("type") == "input" and b.get("block_id") and b.get("element")}

    def set(self, block_id: str, value: str) -> dict[str, Any]:
        """Type or choose ``value`` in ``block_id``; returns the element (LookupError when
        the modal has no such input, or a select no such option)."""
        el = self.inputs().get(block_id)
        if el is None:
            raise LookupError(f"modal {self.number} has no field {block_id!r}; fields: "
                              + ", ".join(self.inputs()))
        if el.get("type") == "static_select" and value:
            values = [o["value"] for o in el.get("options", [])]
            if value not in values:
                raise LookupError(f"{block_id} has no option {value!r}; options: "
                                  + ", ".join(values))
        self.typed[block_id] = value
        return el

    def state_values(self) -> dict[str, Any]:
        """``view.state.values`` as Slack sends it: what was typed, else the initial value."""
        out: dict[str, Any] = {}
        for block_id, el in self.inputs().items():
            aid = el.get("action_id", block_id)
            if el.get("type") == "static_select":
                chosen = self.typed.get(block_id)
                opt = next((o for o in el.get("options", []) if o["value"] == chosen), None) \
                    if chosen else el.get("initial_option")
                out[block_id] = {aid: {"type": "static_select", "selected_option": opt}}
            else:
                value = self.typed.get(block_id, el.get("initial_value") or None)
                out[block_id] = {aid: {"type": el.get("type"), "value": value}}
        return out

    def payload_view(self) -> dict[str, Any]:
        return {**self.view, "id": self.id, "hash": self.hash, "team_id": "T0RELBOT",
                "state": {"values": self.state_values()}}

    @property
    def rendered(self) -> str:
        """The modal as text (console, tests)."""
        return view_text(self.view, self.state_values(), self.errors)


def view_text(view: dict[str, Any], state: dict[str, Any], errors: dict[str, str]) -> str:
    """A modal rendered as text: title, blocks, each input with its current value."""
    from bot.render.common import blocks_to_text

    title = (view.get("title") or {}).get("text", "")
    lines = [f"== {title} =="]
    for b in view.get("blocks", []):
        if b.get("type") != "input":
            lines.append(blocks_to_text([b]))
            continue
        bid, el = b.get("block_id", ""), b.get("element", {})
        cur = next(iter((state.get(bid) or {}).values()), {})
        if el.get("type") == "static_select":
            opts = "|".join(o["value"] for o in el.get("options", []))
            value = (cur.get("selected_option") or {}).get("value") or "-"
            lines.append(f"  {bid}: [{value}] ({opts})  — {b['label']['text']}")
        else:
            lines.append(f"  {bid}: \"{cur.get('value') or ''}\"  — {b['label']['text']}")
        if bid in errors:
            lines.append(f"    ! {errors[bid]}")
    submit = (view.get("submit") or {}).get("text")
    if submit:
        lines.append(f"  [{submit}] [Cancel]")
    return "\n".join(lines)
