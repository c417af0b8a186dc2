"""Rollbacks on the action engine: a move commits with the record and messages it decides."""

from __future__ import annotations

from tests.rollback_fixtures import approved_plan, rb_message, rollback_chat, verified

REFUSE_NOTE = """
CREATE TRIGGER refuse_cancel_note BEFORE INSERT ON outbox
WHEN NEW.body LIKE '%cancelled by%'
BEGIN SELECT RAISE(ABORT, 'injected: the disk refused the message'); END
"""


def test_a_move_and_its_message_commit_together(make_chat) -> None:
    chat = rollback_chat(make_chat)
    approved_plan(chat)
    assert chat.svc.rollbacks.get(1).status == "scheduled"
    # a real database fault on the thread note the cancel queues (SQLite trigger)
    with chat.svc.db.tx() as c:
        c.execute(REFUSE_NOTE)
    chat.command("U0BOB", "/rollback cancel RB-0001 fixed forward")
    # nothing of the cancel committed: not the move, not its record, audit or message
    row = chat.svc.rollbacks.get(1)
    assert row.status == "scheduled" and row.record.error == ""
    assert chat.svc.actions.get("rollback", "RB-0001").status == "scheduled"
    assert chat.audit("rollback.cancelled") == []
    assert "): scheduled" in rb_message(chat).text
    assert any(j[1] == "rollback.execute" for j in chat.svc.scheduler.jobs())
    with chat.svc.db.tx() as c:
        c.execute("DROP TRIGGER refuse_cancel_note")
    chat.command("U0BOB", "/rollback cancel RB-0001 fixed forward")
    assert "): cancelled" in rb_message(chat).text
    assert len(chat.audit("rollback.cancelled")) == 1
    assert any("RB-0001 cancelled by <@U0BOB>: fixed forward" in m.rendered
               for m in chat.thread(rb_message(chat)))
    assert verified(chat)["status"] == "cancelled"
