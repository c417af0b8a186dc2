"""Issue 13 Why-8: actions are bound to the message they were clicked on."""

from __future__ import annotations

import itertools
import json
from urllib.parse import urlencode

from tests.rollback_fixtures import rb_message, rollback_chat

FIRST = "/rollback api sev=1 impact=widespread to=1.3.0 bad deploy"
SECOND = "/rollback api sev=1 impact=widespread to=1.2.0 still bad"
_TRIGGERS = itertools.count(1)


def _tick(chat, msg, block_id: str, values: list[str], user: str = "U0ALICE",
          action_id: str = "rollback:checklist:pre") -> None:
    payload = {"type": "block_actions", "user": {"id": user}, "team": {"id": "T0RELBOT"},
               "trigger_id": f"forged-{next(_TRIGGERS)}",
               "container": {"type": "message", "message_ts": msg.ts, "channel_id": msg.channel},
               "channel": {"id": msg.channel}, "message": {"ts": msg.ts, "blocks": msg.blocks},
               "actions": [{"type": "checkboxes", "action_id": action_id, "block_id": block_id,
                            "selected_options": [{"value": v} for v in values]}]}
    chat.sender.post(urlencode({"payload": json.dumps(payload)}),
                     "application/x-www-form-urlencoded")
    chat.local.wait_idle()


def _pre(chat, num: int) -> dict:
    return chat.svc.rollbacks.get(num).record.checklists["pre"]


def test_forged_block_id_cannot_tick_another_rollbacks_checklist(make_chat) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", FIRST)
    first = rb_message(chat)
    chat.command("U0ALICE", "/rollback resolve RB-0001 fixed the cause")
    chat.command("U0ALICE", SECOND)
    second = rb_message(chat)
    assert second.ts != first.ts
    # clicked on RB-0002's message, block_id forged to name RB-0001
    _tick(chat, second, "rollback-checklist:1:pre", ["pre-1", "pre-2"])
    assert _pre(chat, 1) == {} and _pre(chat, 2) == {}
    [refused] = chat.audit("action.refused")
    assert refused.actor == "U0ALICE" and refused.subject == "2"
    assert refused.payload["named"] == "1" and "not the rollback of this message" in (
        refused.payload["reason"])
    assert any("does not belong to this message" in m.text for m in chat.api.state.private)
    # an action_id naming another checklist than the block is refused too
    _tick(chat, second, "rollback-checklist:2:pre", ["post-1"],
          action_id="rollback:checklist:post")
    assert chat.svc.rollbacks.get(2).record.checklists["post"] == {}
    # the genuine tick on its own message works
    _tick(chat, second, "rollback-checklist:2:pre", ["pre-1"])
    assert set(_pre(chat, 2)) == {"pre-1"} and _pre(chat, 1) == {}


def test_action_on_a_message_that_is_no_rollback_is_refused(make_chat) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", FIRST)
    other = [m for m in chat.messages if m is not rb_message(chat)][-1]
    _tick(chat, other, "rollback-checklist:1:pre", ["pre-1"])
    assert _pre(chat, 1) == {}
    assert "not a rollback message" in chat.audit("action.refused")[0].payload["reason"]
