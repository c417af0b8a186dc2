"""A transition and the messages it causes commit in one transaction, or neither does.

The faults are real: an exception inside the transaction, a database trigger that makes
queueing one particular message fail (as a full disk or a lost connection would at that
point), or a process killed with SIGKILL between the two; nothing of relbot's own is replaced.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from bot.messages import post_message
from bot.release import service as rs
from bot.sync import flow
from storage.audit import AuditLog
from storage.db import Database
from tests.harness import Chat
from tests.test_release_fixtures import commit, make_repo
from tests.test_release_fixtures import config as release_config
from tests.test_sync_flow import config, plan_msg, setup_repos

CH = "C0RELEASES"


class Injected(Exception):
    """The fault a test raises inside a transaction."""


@contextmanager
def outbox_fault(chat: Chat, containing: str) -> Iterator[None]:
    """While inside: queueing a message (or update) whose text contains ``containing``
    fails in the database, so the transaction that queues it fails there."""
    like = f"%{containing}%"
    if chat.svc.db.dialect == "postgresql":
        with psycopg.connect(str(chat.database), autocommit=True) as c:
            c.execute("CREATE FUNCTION injected_fault() RETURNS trigger AS $$ BEGIN "
                      f"IF NEW.body LIKE '{like}' THEN RAISE EXCEPTION 'injected fault'; "
                      "END IF; RETURN NEW; END $$ LANGUAGE plpgsql")
            c.execute("CREATE TRIGGER injected_fault BEFORE INSERT ON outbox FOR EACH ROW "
                      "EXECUTE FUNCTION injected_fault()")
        drop = ["DROP TRIGGER injected_fault ON outbox", "DROP FUNCTION injected_fault()"]
    else:
        chat.svc.db.conn().execute(
            "CREATE TRIGGER injected_fault BEFORE INSERT ON outbox "
            f"WHEN NEW.body LIKE '{like}' BEGIN SELECT RAISE(ABORT, 'injected fault'); END")
        drop = ["DROP TRIGGER injected_fault"]
    try:
        yield
    finally:
        if chat.svc.db.dialect == "postgresql":
            with psycopg.connect(str(chat.database), autocommit=True) as c:
                for sql in drop:
                    c.execute(sql)
        else:
            for sql in drop:
                chat.svc.db.conn().execute(sql)


def _counted(chat: Chat, command: str) -> float:
    value = chat.svc.metrics.commands.labels(command, "run")._value.get()  # type: ignore[union-attr]
    return float(value)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_state_messages_jobs_and_metrics_roll_back_together(backend: str, make_chat,
                                                            pg_make_chat) -> None:
    chat = (make_chat if backend == "sqlite" else pg_make_chat)()
    svc, when = chat.svc, chat.clock.now() + timedelta(hours=1)
    with pytest.raises(Injected), svc.db.tx():
        svc.audit.append("U0ALICE", "command", "/probe", {"n": 1})
        post_message(svc, "decided by the transition", None, CH)
        svc.scheduler.add_once("probe-job", when, "sync.expire", plan_id="none")
        raise Injected   # e.g. the process dies here
    chat.wait()
    assert chat.audit("command") == [] and _counted(chat, "/probe") == 0
    assert svc.outbox.store.counts() == {} and chat.messages == []
    assert "probe-job" not in [j for j, _, _ in svc.scheduler.jobs()]

    with svc.db.tx():
        svc.audit.append("U0ALICE", "command", "/probe", {"n": 2})
        post_message(svc, "decided by the transition", None, CH)
        svc.scheduler.add_once("probe-job", when, "sync.expire", plan_id="none")
    chat.wait()
    assert [e.payload["n"] for e in chat.audit("command")] == [2]
    assert _counted(chat, "/probe") == 1
    assert [m.text for m in chat.messages] == ["decided by the transition"]
    assert "probe-job" in [j for j, _, _ in svc.scheduler.jobs()]


def test_refreshes_inside_and_outside_transactions_never_deadlock(tmp_path: Path,
                                                                  make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst))
    chat.command("U0ALICE", "/sync plan docs")
    pid = plan_msg(chat).rendered.split()[1]
    svc, store = chat.svc, flow.store(chat.svc)

    def transitions() -> None:
        for i in range(40):
            with svc.db.tx():
                store.set_result(pid, f"note {i}")
                flow.refresh_message(svc, pid)

    def refreshes() -> None:
        for _ in range(40):
            flow.refresh_message(svc, pid)

    threads = [threading.Thread(target=f, daemon=True) for f in (transitions, refreshes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a refresh deadlocked with a transition"
    chat.wait()   # the update queued last (the one Slack keeps) renders the latest state
    last = svc.outbox.store.db.conn().execute(
        "SELECT body FROM outbox WHERE op = 'update' ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert last == flow.message_text(svc, store.get(pid)) == plan_msg(chat).text  # type: ignore[arg-type]


def test_a_sync_expiry_whose_message_cannot_be_queued_is_not_half_done_on_postgres(
        tmp_path: Path, pg_make_chat) -> None:   # (SQLite: tests/test_sync_transitions.py)
    src, dst = setup_repos(tmp_path)
    chat = pg_make_chat(config(src, dst, "    approval: {quorum: 1, expires: 1h}\n"))
    chat.command("U0ALICE", "/sync plan docs")
    pid = plan_msg(chat).rendered.split()[1]
    with outbox_fault(chat, "status: expired"):
        chat.clock.advance(hours=2)
        chat.run_due()          # the expiry job fails where it queues the message update
        row = flow.store(chat.svc).get(pid)
        assert row is not None and row.status == "planned"   # so the expiry is undone too
        assert chat.audit("sync.expired") == []
        assert "status: expired" not in plan_msg(chat).rendered
    chat.clock.advance(minutes=2)
    chat.run_due()              # the job's retry expires the plan and updates its message
    assert "status: expired" in plan_msg(chat).rendered
    assert len(chat.audit("sync.expired")) == 1


def test_a_release_step_and_its_message_commit_together(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: users endpoint",))
    commit(repo, "chore: bump 1.3.0", {"pyproject.toml": 'version = "1.3.0"'})
    chat = make_chat(release_config(repo), groups={"release-managers": ["U0CAROL"]})
    chat.command("U0ALICE", "/release start minor")
    msg = [m for m in chat.messages if m.rendered.startswith("== Release api")][0]
    chat.click("U0CAROL", msg, "release:check:RL-01", "1:RL-01")
    with outbox_fault(chat, "moved Feature Freeze"):
        chat.command("U0ALICE", "/release advance")   # its thread note cannot be queued
        assert rs.find(chat.svc, "1.3.0").step == "Feature Freeze"   # so it did not move
        assert chat.audit("release.advance") == []
    said = chat.command("U0ALICE", "/release advance")
    assert "at RC" in said.text and rs.find(chat.svc, "1.3.0").step == "RC"
    assert len(chat.audit("release.advance")) == 1
    assert any("moved Feature Freeze → RC" in m.text for m in chat.thread(msg))


_KILLED = """
import sys, time
from bot.clock import SystemClock
from bot.outbox import Outbox
from storage.audit import AuditLog
from storage.db import Database
from storage.outbox import OutboxStore
db = Database(sys.argv[1])
audit, outbox = AuditLog(db), Outbox(OutboxStore(db), SystemClock())
if sys.argv[2] == "one":          # the transition and its message in one transaction
    with db.tx():
        audit.append("relbot", "sync.expired", "DR-1", {})
        outbox.post("C0RELEASES", "status: expired", None)
        print("between", flush=True)
        time.sleep(60)
else:                             # committed first, the message queued afterwards
    audit.append("relbot", "sync.expired", "DR-1", {})
    print("between", flush=True)
    time.sleep(60)
    outbox.post("C0RELEASES", "status: expired", None)
"""


@pytest.mark.parametrize("how", ["one", "two"])
def test_a_process_killed_between_a_transition_and_its_message(tmp_path: Path,
                                                                how: str) -> None:
    path = tmp_path / "relbot.db"
    repo = Path(__file__).resolve().parent.parent
    p = subprocess.Popen([sys.executable, "-c", _KILLED, str(path), how], text=True,
                         stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(repo)})
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "between"
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(30)
    db = Database(path)
    audited = len(list(AuditLog(db).entries(action_prefix="sync.expired")))
    queued = db.conn().execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    if how == "one":
        assert (audited, queued) == (0, 0)   # neither: the transition never happened
    else:
        assert (audited, queued) == (1, 0)   # the old way: the transition, its message lost
    with db.tx():                            # and the killed writer left no lock behind
        db.conn().execute("DELETE FROM outbox")
    db.close()
