"""Approve / Withdraw buttons beside reactions: same policy, same audit, same binding."""

from __future__ import annotations

from pathlib import Path

from bot.render.approval import APPROVE, WITHDRAW
from tests.rollback_fixtures import PLANNED, rb_message, rollback_chat
from tests.test_sync_flow import config, plan_msg, setup_repos
from tests.test_sync_plan import tree_hash


def _button(msg, action_id: str) -> dict:  # type: ignore[no-untyped-def]
    return next(e for b in msg.blocks or [] if b.get("type") == "actions"
                for e in b["elements"] if e.get("action_id") == action_id)


def _votes(chat, action: str) -> list:  # type: ignore[no-untyped-def]
    return [e for e in chat.audit(action) if e.action == action]


def test_buttons_vote_like_reactions_and_the_message_says_how(tmp_path: Path,
                                                              make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    before = tree_hash(dst)
    chat = make_chat(config(src, dst))
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    approve = _button(msg, APPROVE)
    assert approve["style"] == "primary" and _button(msg, WITHDRAW)
    dialog = approve["confirm"]["text"]["text"]
    assert "sync *docs*" in dialog and str(dst) in dialog and msg.rendered.split()[1] in dialog
    assert "[Approve] [Withdraw]" in msg.rendered

    said = chat.click("U0ALICE", msg, APPROVE)                 # the requester: refused
    assert "was not counted: self-approval is not allowed" in said.text
    [refused] = _votes(chat, "approval.refused")
    assert refused.payload["via"] == "button" and refused.actor == "U0ALICE"

    chat.click("U0BOB", msg, APPROVE)
    chat.click("U0BOB", msg, APPROVE)                          # a second click counts once
    [counted] = _votes(chat, "approval.counted")
    req = chat.svc.approvals.for_subject("sync", counted.subject)
    assert counted.payload["via"] == "button"
    assert (counted.payload["evidence_id"], counted.payload["digest"]) == (req.evidence_id,
                                                                            req.digest)
    assert "approved by: <@U0BOB> by button at" in plan_msg(chat).rendered

    chat.click("U0BOB", msg, WITHDRAW)
    [revoked] = _votes(chat, "approval.revoked")
    assert revoked.payload["via"] == "button"
    assert "approved by: nobody yet" in plan_msg(chat).rendered

    chat.react("U0CAROL", msg)
    said = chat.click("U0CAROL", msg, WITHDRAW)                # she voted by reaction
    assert "remove that reaction to withdraw" in said.text
    assert "<@U0CAROL> by :white_check_mark: at" in plan_msg(chat).rendered
    assert tree_hash(dst) == before
    chat.click("U0BOB", msg, APPROVE)                          # quorum: executes
    assert chat.audit("sync.success") and tree_hash(dst) != before
    vias = sorted(e.payload["via"] for e in _votes(chat, "approval.counted"))
    assert vias == ["button", "button", "reaction"]
    assert "[Approve]" not in plan_msg(chat).rendered          # done: no buttons left


def test_a_button_is_bound_to_the_request_of_its_own_message(tmp_path: Path,
                                                             make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst))
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    req = chat.svc.approvals.for_subject("sync", msg.rendered.split()[1])
    said = chat.click("U0BOB", msg, APPROVE, value="AP-00000000")  # another request's id
    assert "no approval is open on this message" in said.text
    assert not _votes(chat, "approval.counted")
    [refused] = _votes(chat, "approval.refused")
    assert refused.payload["request"] == "AP-00000000" and refused.payload["via"] == "button"
    assert chat.svc.approvals.state(req).approved_by == ()


def test_a_planned_rollback_is_approved_with_buttons(make_chat) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", PLANNED)
    msg = rb_message(chat)
    dialog = _button(msg, APPROVE)["confirm"]["text"]["text"]
    assert "rollback *RB-0001*: api 1.4.0 → 1.3.0" in dialog
    chat.click("U0BOB", msg, APPROVE)
    chat.click("U0CAROL", msg, APPROVE)
    text = rb_message(chat).rendered
    assert "<@U0BOB> by button" in text and "<@U0CAROL> by button" in text
    assert "): scheduled" in rb_message(chat).text
    assert "[Approve]" not in text
