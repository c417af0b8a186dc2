"""Block Kit views (modals) for ``/rollback`` and ``/release start`` with no arguments."""

from __future__ import annotations

import json
from typing import Any

ROLLBACK = "rollback:modal"
RELEASE = "release:modal"
SEVERITY_ACTION = "rollback:modal:severity"
IMPACT_ACTION = "rollback:modal:impact"
CELL_BLOCK = "cell"


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:150]}


def _option(value: str, label: str | None = None) -> dict[str, Any]:
    return {"text": _plain(label or value), "value": value}


def _select(block_id: str, label: str, action_id: str, options: list[tuple[str, str]],
            initial: str | None = None, dispatch: bool = False,
            optional: bool = False) -> dict[str, Any]:
    el: dict[str, Any] = {"type": "static_select", "action_id": action_id,
                          "options": [_option(v, lbl) for v, lbl in options]}
    if initial is not None:
        el["initial_option"] = _option(initial, dict(options).get(initial))
    block = {"type": "input", "block_id": block_id, "label": _plain(label), "element": el,
             "optional": optional}
    if dispatch:
        block["dispatch_action"] = True
    return block


def _text(block_id: str, label: str, placeholder: str = "", multiline: bool = False,
          optional: bool = False, initial: str = "") -> dict[str, Any]:
    el: dict[str, Any] = {"type": "plain_text_input", "action_id": block_id,
                          "multiline": multiline}
    if placeholder:
        el["placeholder"] = _plain(placeholder)
    if initial:
        el["initial_value"] = initial
    return {"type": "input", "block_id": block_id, "label": _plain(label), "element": el,
            "optional": optional}


def _modal(callback_id: str, title: str, submit: str, blocks: list[dict[str, Any]],
           meta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "modal", "callback_id": callback_id, "title": _plain(title[:24]),
            "submit": _plain(submit), "close": _plain("Cancel"), "blocks": blocks,
            "private_metadata": json.dumps(meta, sort_keys=True)}


def rollback_view(products: list[str], severities: tuple[str, ...], impacts: tuple[str, ...],
                  cell_text: str, values: dict[str, str], meta: dict[str, Any]
                  ) -> dict[str, Any]:
    """The rollback form; ``cell_text`` is the matrix cell for the chosen severity x impact
    (or a hint to choose them), shown live under the two selects."""
    one = products[0] if len(products) == 1 else values.get("product")
    blocks = [
        _select("product", "Product", "product", [(p, p) for p in products], one),
        _text("version", "Bad version (optional: the running release)", "1.4.0", optional=True,
              initial=values.get("version", "")),
        _select("severity", "Severity", SEVERITY_ACTION,
                [(s, f"{i} {s}") for i, s in enumerate(severities, 1)],
                values.get("severity"), dispatch=True),
        _select("impact", "Impact", IMPACT_ACTION, [(i, i) for i in impacts],
                values.get("impact"), dispatch=True),
        {"type": "context", "block_id": CELL_BLOCK,
         "elements": [{"type": "mrkdwn", "text": cell_text}]},
        _text("to", "Target version (optional: the last known good)", "1.3.0", optional=True,
              initial=values.get("to", "")),
        _text("components", "Components (optional, comma-separated: a partial rollback)",
              "api,worker", optional=True, initial=values.get("components", "")),
        _text("at", "Window (optional, ISO time: planned for then)", "2026-11-24T22:00",
              optional=True, initial=values.get("at", "")),
        _text("reason", "Reason", "error rate 40% after the deploy", multiline=True,
              initial=values.get("reason", "")),
    ]
    return _modal(ROLLBACK, "Roll back", "Declare", blocks, meta)


def release_view(product: str, last: str, proposed: str | None, new: str | None,
                 why: list[str], choices: list[str], meta: dict[str, Any]) -> dict[str, Any]:
    """The release form: the proposed bump and the commits that call for it."""
    if proposed:
        head = f"*{product}*: last release {last}. Proposed *{proposed}* → *{new}* because:"
        lines = "\n".join(f"• {w}" for w in why[:20]) or "• (no commits listed)"
    else:
        head = (f"*{product}*: last release {last}. No releasable commits (feat/fix/perf/docs) "
                "since; choose a bump to start anyway.")
        lines = ""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "block_id": "proposal",
         "text": {"type": "mrkdwn", "text": (head + ("\n" + lines if lines else ""))[:2900]}},
        _select("bump", "Bump", "bump", [(c, c) for c in choices],
                proposed if proposed in choices else None),
        _text("version", "Or an exact version (optional)", "1.4.0", optional=True),
        _text("reason", "Reason (when the cadence needs one: a major outside a major cycle, "
              "a minor in the stabilization week)", "", optional=True),
    ]
    return _modal(RELEASE, f"Release {product}", "Start", blocks, meta)
