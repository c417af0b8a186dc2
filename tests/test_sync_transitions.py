"""State first, Slack after: a sync plan's move and the messages it decides commit together.

The fault is real: a database trigger makes queueing one particular message fail (as a full
disk or a lost connection would at that point), inside the transaction of the move that
decided it; nothing of relbot's own is replaced. Each test runs on the chat's backend
(SQLite, or PostgreSQL with ``RELBOT_TEST_BACKEND=postgresql``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.harness import Chat
from tests.test_sync_flow import config, plan_msg, setup_repos
from tests.test_sync_plan import tree_hash


@contextmanager
def queue_fails(chat: Chat, containing: str) -> Iterator[None]:
    """While inside, queueing a message or update whose text contains ``containing`` fails
    in the database (the transaction queueing it fails there)."""
    like = f"%{containing}%"
    if chat.svc.db.dialect == "postgresql":
        import psycopg

        def run(*sql: str) -> None:
            with psycopg.connect(str(chat.database), autocommit=True) as c:
                for s in sql:
                    c.execute(s)  # type: ignore[call-overload]

        run("CREATE FUNCTION queue_fails() RETURNS trigger AS $$ BEGIN IF NEW.body LIKE "
            f"'{like}' THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$ "
            "LANGUAGE plpgsql",
            "CREATE TRIGGER queue_fails BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION "
            "queue_fails()")
        try:
            yield
        finally:
            run("DROP TRIGGER queue_fails ON outbox", "DROP FUNCTION queue_fails()")
        return
    conn = chat.svc.db.conn()
    conn.execute(f"CREATE TRIGGER queue_fails BEFORE INSERT ON outbox WHEN NEW.body LIKE "
                 f"'{like}' BEGIN SELECT RAISE(ABORT, 'injected fault'); END")
    try:
        yield
    finally:
        conn.execute("DROP TRIGGER queue_fails")


def _manual(src: Path, dst: Path) -> str:
    return config(src, dst, "    approval: {quorum: 1}\n").replace(
        "options: {delete: true}", "options: {delete: true, auto_apply: false}")


def _pid(chat: Chat) -> str:
    return plan_msg(chat).rendered.split()[1]


def test_a_quorum_and_its_messages_commit_together(tmp_path: Path, make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    chat = make_chat(_manual(src, dst))
    chat.command("U0ALICE", "/sync plan docs")
    pid, msg = _pid(chat), plan_msg(chat)
    with queue_fails(chat, "Approved. Run"):
        chat.react("U0BOB", msg)                # the vote counts; its quorum cannot commit
        assert [e.actor for e in chat.audit("approval.counted")] == ["U0BOB"]
        req = chat.svc.approvals.for_subject("sync", pid)
        assert req is not None and req.status == "open"        # not approved ...
        assert "needs 1 more approval" in plan_msg(chat).rendered  # ... nor shown as such
        assert not [m for m in chat.thread(msg) if "Approved" in m.rendered]
    chat.react("U0CAROL", msg)                  # the next vote decides it, all of it at once
    req = chat.svc.approvals.for_subject("sync", pid)
    assert req is not None and req.status == "approved"
    assert "quorum reached" in plan_msg(chat).rendered
    assert [m.rendered for m in chat.thread(msg)] == [
        f"Approved. Run `/sync apply {pid}` to execute."]
    assert chat.command("U0BOB", f"/sync status {pid}").text.startswith(f"{pid} (docs): planned")


def test_a_quorum_that_cannot_commit_never_executes(tmp_path: Path, make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst, "    approval: {quorum: 1}\n"))
    chat.command("U0ALICE", "/sync plan docs")
    pid, before = _pid(chat), tree_hash(dst)
    with queue_fails(chat, "quorum reached"):
        chat.react("U0BOB", plan_msg(chat))
    assert tree_hash(dst) == before and not chat.audit("sync.success")
    action = chat.svc.actions.get("sync", pid)
    assert action is not None and action.status == "planned"
    chat.command("U0BOB", f"/sync apply {pid}")     # the approval stands: it runs now
    assert tree_hash(dst) != before and chat.audit("sync.success")


def test_an_end_that_cannot_commit_is_finished_by_the_watchdog(tmp_path: Path,
                                                               make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst, "    approval: {quorum: 1}\n"))
    chat.command("U0ALICE", "/sync plan docs")
    pid, msg = _pid(chat), plan_msg(chat)
    with queue_fails(chat, "done: target now at"):
        chat.react("U0BOB", msg)                # pushed, but its end is not committed
    assert not chat.audit("sync.success") and not chat.thread(msg)
    assert f"{pid} (docs): running" in chat.command("U0BOB", f"/sync status {pid}").text
    chat.clock.advance(minutes=31)              # the leases' ttl: the watchdog is due
    chat.run_due()
    assert [e.subject for e in chat.audit("sync.interrupted")] == [pid]
    assert [m for m in chat.thread(msg) if "was interrupted" in m.rendered]
    said = chat.command("U0BOB", f"/sync status {pid}").text
    assert said.startswith(f"{pid} (docs): failed - interrupted")


def test_a_cancel_and_its_message_commit_together(tmp_path: Path, make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst))
    chat.command("U0ALICE", "/sync plan docs")
    pid = _pid(chat)
    with queue_fails(chat, "status: cancelled"):
        said = chat.command("U0ALICE", f"/sync cancel {pid}")
    assert f"{pid} cancelled." not in said.text and not chat.audit("sync.cancelled")
    req = chat.svc.approvals.for_subject("sync", pid)
    assert req is not None and req.status == "open"
    assert chat.command("U0BOB", f"/sync status {pid}").text.startswith(f"{pid} (docs): planned")
    assert f"{pid} cancelled." in chat.command("U0ALICE", f"/sync cancel {pid}").text
    assert "status: cancelled (by U0ALICE)" in plan_msg(chat).rendered
    assert len(chat.audit("sync.cancelled")) == 1


def test_an_expiry_and_its_message_commit_together(tmp_path: Path, make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst, "    approval: {quorum: 1, expires: 1h}\n"))
    chat.command("U0ALICE", "/sync plan docs")
    pid = _pid(chat)
    with queue_fails(chat, "status: expired"):
        chat.clock.advance(hours=2)
        chat.run_due()                          # the expiry job fails where it queues
        action = chat.svc.actions.get("sync", pid)
        assert action is not None and action.status == "planned"
        assert not chat.audit("sync.expired")
        req = chat.svc.approvals.for_subject("sync", pid)
        assert req is not None and req.status == "open"
    chat.clock.advance(minutes=2)
    chat.run_due()                              # the job's retry: all of it at once
    assert "status: expired (approval expired at" in plan_msg(chat).rendered
    assert len(chat.audit("sync.expired")) == 1
    assert chat.command("U0BOB", f"/sync status {pid}").text.startswith(f"{pid} (docs): expired")
