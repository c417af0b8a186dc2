"""One storage contract, run on both backends (``db_url``: SQLite file, then PostgreSQL).

Each test states what a store promises its callers; the same assertions hold on SQLite and
on PostgreSQL, so a dialect difference shows up here first.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError

from bot.actions.record import Actions
from bot.clock import FakeClock
from bot.errors import IllegalMove
from bot.rollback.record import RollbackRecord
from storage import audit, rollback, sync
from storage.actions import ActionStore, SlotTaken
from storage.approvals import ApprovalStore, RequestRow, VoteRow
from storage.audit import AuditLog
from storage.cadence import CadenceStore
from storage.db import Database
from storage.dialect import database_errors
from storage.events import SeenEvents
from storage.jobstore import SQLiteJobStore
from storage.locks import Locks
from storage.release import Conflict as ReleaseConflict
from storage.release import ReleaseStore
from storage.rollback import RollbackStore, rollback_id
from storage.sync import SyncStore
from tests.audit_writer import append_many

NOW = "2026-11-24T09:00:00Z"
RECORD = {"product": "api", "kind": "immediate", "severity": "critical", "impact": "widespread",
          "reason": "errors", "from_version": "1.4.0", "to_version": "1.3.0",
          "cell": {"type": "immediate", "approvals": 0, "notify_oncall": True},
          "cell_name": "critical x widespread", "why": "matrix", "digest": "d"}


@pytest.fixture
def db(db_url: str):
    d = Database(db_url)
    yield d
    d.close()


def test_backend_matches_url(db: Database, db_url: str) -> None:
    assert db.dialect == ("postgresql" if db_url.startswith("postgresql") else "sqlite")


def test_migrations_are_idempotent_and_versioned(db_url: str) -> None:
    first = Database(db_url)
    AuditLog(first)
    SyncStore(first)
    first.close()
    again = Database(db_url)  # a second start (or a second replica) runs nothing twice
    AuditLog(again)
    SyncStore(again)
    assert again.version("audit") == len(audit.MIGRATIONS)
    assert again.version("sync") == len(sync.MIGRATIONS)
    assert again.version("nothing") == 0
    again.close()


def test_audit_chain_and_append_only(db: Database) -> None:
    log = AuditLog(db, FakeClock(NOW))
    for i in range(3):
        log.append("U0ALICE", "sync.vote", "SYNC-1", {"i": i, "note": "100% _done_"})
    assert log.verify().ok and log.count() == 3
    assert [e.seq for e in log.entries(action_prefix="sync.")] == [1, 2, 3]
    assert list(log.entries(action_prefix="sync_")) == []  # LIKE wildcards are escaped
    assert log.get(2).payload == {"i": 1, "note": "100% _done_"}
    for sql in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log WHERE seq = 2"):
        with pytest.raises(database_errors(), match="append-only"):
            db.conn().execute(sql)
    assert log.verify().ok and log.count() == 3


def test_audit_truncate_refused_on_postgres(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    AuditLog(db).append("system", "x")
    with pytest.raises(database_errors(), match="append-only"):
        db.conn().execute("TRUNCATE audit_log")


def test_audit_chain_linear_under_concurrent_threads(db: Database) -> None:
    log = AuditLog(db)
    threads = [threading.Thread(target=lambda n=n: [log.append(f"T{n}", "x") for _ in range(10)])
               for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    res = log.verify()
    assert res.ok and res.count == 40


def test_audit_appends_after_the_true_head_when_another_writer_moved_it(db: Database) -> None:
    """Each log appends after the entry it wrote last without reading the head, but only
    while that entry is still the head: another writer's entries (a second process) and a
    rolled-back append are never chained over."""
    a, b = AuditLog(db, FakeClock(NOW)), AuditLog(db, FakeClock(NOW), migrate=False)
    a.append("A", "x")
    b.append("B", "x")
    assert a.append("A", "x").seq == 3 and b.append("B", "x").seq == 4
    with pytest.raises(RuntimeError), db.tx():
        a.append("A", "rolled back")
        raise RuntimeError
    assert a.append("A", "x").seq == 5
    with db.tx():  # several appends in one transaction chain on each other
        assert [a.append("A", "batch").seq for _ in range(3)] == [6, 7, 8]
    res = a.verify()
    assert res.ok and res.count == 8
    assert [e.prev_hash for e in a.entries()][1:] == [e.hash for e in a.entries()][:-1]


def test_current_tx_names_one_transaction_while_it_lasts(db: Database) -> None:
    """What was read under one token is still committed while it lasts: the token is the
    same through nested tx() and differs in the next transaction."""
    assert db.current_tx() is None
    with db.tx():
        first = db.current_tx()
        with db.tx():
            assert first is not None and db.current_tx() is first
    assert db.current_tx() is None
    with db.tx():
        assert db.current_tx() is not first


def test_audit_chain_linear_under_concurrent_processes(db: Database, db_url: str) -> None:
    AuditLog(db)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=append_many, args=(db_url, 15)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    res = AuditLog(db).verify()
    assert res.ok and res.count == 45


def test_seen_events_dedupe_and_prune(db: Database) -> None:
    ev = SeenEvents(db)
    assert ev.first_time("Ev1", "2026-11-24T09:00:00Z")
    assert not ev.first_time("Ev1", "2026-11-24T09:00:01Z")
    assert ev.first_time("Ev2", "2026-11-24T09:30:00Z")
    assert ev.prune("2026-11-24T09:10:00Z") == 1
    assert ev.first_time("Ev1", "2026-11-24T09:31:00Z")  # pruned: forgotten
    assert not ev.first_time("Ev2", "2026-11-24T09:32:00Z")


def test_leases_expire_and_belong_to_their_holder(db: Database) -> None:
    clock = FakeClock(NOW)
    locks = Locks(db, clock)
    assert locks.acquire("sync:docs", "A", timedelta(minutes=5), "sync") is None
    held = locks.acquire("sync:docs", "B", timedelta(minutes=5))
    assert held is not None and held.holder == "A"
    assert not locks.release("sync:docs", "B")
    clock.advance(timedelta(minutes=6))
    assert locks.holder("sync:docs") is None
    assert locks.acquire("sync:docs", "B", timedelta(minutes=5)) is None
    assert locks.holder("sync:docs").holder == "B"
    assert locks.release("sync:docs", "B") and locks.holder("sync:docs") is None


def test_freezes(db: Database) -> None:
    locks = Locks(db, FakeClock(NOW))
    locks.freeze("api", "RB-0001", "bad deploy", "U0ALICE")
    locks.freeze("api", "RB-0002", "again", "U0BOB")
    assert [f.ref for f in locks.all_frozen()] == ["RB-0002"]
    assert locks.unfreeze("api").ref == "RB-0002" and locks.frozen("api") is None


def _request(rid: str = "A1", ts: str = "1.0") -> RequestRow:
    return RequestRow(rid, "sync", "docs", "EV-1", "d" * 64, "C1", ts, "U0ALICE",
                      {"quorum": 2}, NOW, "2026-11-25T09:00:00Z", "open")


def test_approvals_votes_once_and_compare_and_set(db: Database) -> None:
    st = ApprovalStore(db)
    st.insert(_request())
    with pytest.raises(database_errors()):
        st.insert(_request("A2"))  # one request per message (channel, ts)
    bob = VoteRow("U0BOB", "white_check_mark", NOW, "counted", "1")
    assert st.put_reaction("A1", bob, prev=None)
    assert not st.put_reaction("A1", bob, prev=None)  # first insert wins
    carol = VoteRow("U0CAROL", "+1", NOW, "counted", "2")
    assert st.put_reaction("A1", carol, prev=None)
    assert [(v.user, v.reaction) for v in st.votes("A1")] == [
        ("U0BOB", "white_check_mark"), ("U0CAROL", "+1")]
    removed = VoteRow("U0CAROL", "+1", NOW, "removed", "3")
    assert st.put_reaction("A1", removed, prev=carol)
    assert not st.put_reaction("A1", removed, prev=carol)  # compare-and-set: state moved
    assert [v.user for v in st.votes("A1")] == ["U0BOB"]
    assert st.reaction("A1", "U0CAROL", "+1").state == "removed"
    assert st.transition("A1", "open", "approved")
    assert not st.transition("A1", "open", "approved")  # exactly one caller wins
    assert st.by_message("C1", "1.0").policy == {"quorum": 2}


def _declare(db: Database, st: RollbackStore, acts: Actions, product: str, status: str,
             user: str) -> int:
    """A rollback as ``bot.rollback`` declares one: its row and its action in one tx."""
    with db.tx():
        rec = RollbackRecord.model_validate({**RECORD, "product": product})
        num = st.create(product, "RB-IMM", "immediate", user, NOW, rec)
        acts.create("rollback", rollback_id(num), status, digest="d",
                    exclusive=f"rollback:{product}")
    return num


def test_rollbacks_one_active_per_product_through_actions(db: Database) -> None:
    st = RollbackStore(db)
    acts = Actions(ActionStore(db), FakeClock(datetime(2026, 11, 24, 9, tzinfo=UTC)))
    first = st.get(_declare(db, st, acts, "api", "executing", "U0ALICE"))
    assert first is not None and first.id == "RB-0001" and first.status == "executing"
    with pytest.raises(SlotTaken):
        _declare(db, st, acts, "api", "executing", "U0BOB")
    assert [r.num for r in st.recent()] == [1]          # the refused one left no row
    assert _declare(db, st, acts, "web", "awaiting-approval", "U0BOB") == 2  # gapless
    assert acts.move("rollback", "RB-0001", "done", only_from=("executing",))
    assert not acts.move("rollback", "RB-0001", "done", only_from=("executing",))
    assert st.get(1).status == "done" and st.active_for("api") is None
    assert [r.id for r in st.done_for("api")] == ["RB-0001"]
    third = _declare(db, st, acts, "api", "awaiting-approval", "U0BOB")
    assert third == 3 and st.active_for("api").num == 3
    assert [r.num for r in st.active()] == [2, 3]
    assert st.update(3, error="x").error == "x" and st.get(3).record.error == "x"
    with pytest.raises(AttributeError):
        st.update(3, no_such_field=1)


def test_rollback_statuses_of_an_old_database_move_into_actions(db_url: str) -> None:
    old = Database(db_url)
    old.migrate("rollback", rollback.MIGRATIONS[:1])  # a database from before the actions
    for product, status, active in (("api", "done", 0), ("api", "failed", 1),
                                    ("web", "awaiting-approval", 1)):
        with old.tx() as c:
            c.execute("INSERT INTO rollbacks(id, product, status, active, procedure, kind,"
                      " requester, declared, data) VALUES ((SELECT COALESCE(MAX(id), 0) + 1"
                      " FROM rollbacks),?,?,?,'RB-IMM','immediate','U0ALICE',?,?)",
                      (product, status, active, NOW, json.dumps({**RECORD, "digest": "abc"})))
    old.close()
    db = Database(db_url)
    st = RollbackStore(db)                               # start-up runs migration 2
    assert db.version("rollback") == len(rollback.MIGRATIONS)
    assert [(r.id, r.status) for r in st.recent()] == [
        ("RB-0003", "awaiting-approval"), ("RB-0002", "failed"), ("RB-0001", "done")]
    acts = Actions(ActionStore(db), FakeClock(datetime(2026, 11, 24, 9, tzinfo=UTC)))
    rec = st.get(1).record                               # absent keys load with defaults
    assert rec.steps == [] and rec.retries == [] and rec.lock is None and rec.error == ""
    a = acts.get("rollback", "RB-0002")
    assert a is not None and a.active and a.exclusive == "rollback:api" and a.digest == "abc"
    assert st.active_for("api").id == "RB-0002"
    with pytest.raises(SlotTaken):                       # the old active one still holds api
        _declare(db, st, acts, "api", "executing", "U0BOB")
    assert acts.move("rollback", "RB-0002", "aborted", only_from=("failed",))
    assert _declare(db, st, acts, "api", "executing", "U0BOB") == 4
    RollbackStore(db)                                    # a second start runs nothing again
    assert len(acts.with_status("rollback", ("done", "aborted", "executing",
                                             "awaiting-approval"))) == 4
    db.close()


def test_actions_one_compare_and_set_and_one_active_slot(db: Database) -> None:
    acts = Actions(ActionStore(db), FakeClock(datetime(2026, 11, 24, 9, tzinfo=UTC)))
    a = acts.create("rollback", "RB-0001", "executing", digest="d1", exclusive="rollback:api")
    assert a.id == "rollback:RB-0001" and a.active
    with pytest.raises(SlotTaken):
        acts.create("rollback", "RB-0002", "awaiting-approval", exclusive="rollback:api")
    assert acts.get("rollback", "RB-0002") is None          # the refused insert left nothing
    assert acts.move("rollback", "RB-0001", "done", only_from=("executing",))
    assert not acts.move("rollback", "RB-0001", "done", only_from=("executing",))
    done = acts.get("rollback", "RB-0001")
    assert done is not None and done.status == "done" and not done.active
    # the slot is free once the first one finished
    b = acts.create("rollback", "RB-0002", "awaiting-approval", exclusive="rollback:api")
    with pytest.raises(IllegalMove):
        acts.move("rollback", b.subject, "done", only_from=("awaiting-approval",))
    s = acts.create("sync", "P1", "planned", digest="p", parent=b.id)
    assert [c.id for c in acts.children(b)] == [s.id]
    assert [x.subject for x in acts.with_status("sync", ("planned",))] == ["P1"]


def test_actions_move_joins_the_callers_transaction(db: Database) -> None:
    acts = Actions(ActionStore(db), FakeClock(datetime(2026, 11, 24, 9, tzinfo=UTC)))
    acts.create("sync", "P1", "planned")
    with pytest.raises(RuntimeError), db.tx():
        assert acts.move("sync", "P1", "running")
        raise RuntimeError("crash after the move, before its message")
    got = acts.get("sync", "P1")
    assert got is not None and got.status == "planned"      # rolled back together


def test_release_status_is_its_action_and_one_active_per_product(db: Database) -> None:
    st = ReleaseStore(db)
    acts = Actions(ActionStore(db), FakeClock(datetime(2026, 11, 24, 9, tzinfo=UTC)))

    def start(product: str, version: str) -> int:
        with db.tx():   # the row and its action commit together
            rid = st.create(product, version, "minor", "Feature Freeze", "U0ALICE", "abc", NOW,
                            {"RL-01": "pending"})
            acts.create("release", str(rid), "Feature Freeze", digest="abc",
                        exclusive=f"release:{product}")
        return rid

    rid = start("api", "1.2.0")
    r = st.get(rid)
    assert r is not None and (r.step, r.status) == ("Feature Freeze", "active")
    assert r.checks["RL-01"].result == "pending" and r.steps == {"Feature Freeze": NOW}
    with pytest.raises(ReleaseConflict, match="api 1.2.0 is already active"):
        st.create("api", "1.3.0", "minor", "Feature Freeze", "U0ALICE", "abc", NOW, {})
    # a creator that got past the check is refused by the action's slot; its row goes too
    with pytest.raises(SlotTaken), db.tx():
        other = st.create("web", "1.0.0", "minor", "Feature Freeze", "U0BOB", "def", NOW, {})
        acts.create("release", str(other), "Feature Freeze", exclusive="release:api")
    assert st.find("web", "1.0.0") is None
    # the one compare-and-set: of two moves from Feature Freeze exactly one happens
    assert acts.move("release", str(rid), "RC", only_from=["Feature Freeze"])
    assert not acts.move("release", str(rid), "RC", only_from=["Feature Freeze"])
    with pytest.raises(IllegalMove):
        acts.move("release", str(rid), "Execution", only_from=["RC"])
    st.record_step(rid, "RC", "2026-11-24T10:00:00Z")
    assert st.find("api", None).step == "RC"
    assert st.by_message("C1", "") is None
    assert acts.move("release", str(rid), "aborted", only_from=["RC"])
    st.record_step(rid, "RC", "2026-11-24T11:00:00Z", "wrong branch")
    r = st.get(rid)
    assert (r.step, r.status, r.reason) == ("RC", "aborted", "wrong branch")
    assert st.find("api", None) is None and st.released("api") == []
    assert st.conflict("api", "1.2.0") == "api 1.2.0 is already aborted"
    # the slot is free again; a release that is closed is `released` at step Released
    nxt = start("api", "1.3.0")
    for status in ("RC", "Validation", "Execution", "Post-Release", "released"):
        assert acts.move("release", str(nxt), status)
    assert (st.get(nxt).step, st.get(nxt).status) == ("Released", "released")
    assert st.released("api") == ["1.3.0"] and st.all_versions("api") == ["1.2.0", "1.3.0"]
    assert [x.version for x in st.releases_of("api")] == ["1.2.0", "1.3.0"]
    assert st.last("api").version == "1.3.0" and st.find(None, "1.2.0").status == "aborted"


def test_sync_log_upsert(db: Database) -> None:
    st = SyncStore(db)
    st.add_log("L1", "docs", "P1", "running", NOW, {"result": "running"})
    st.add_log("L1", "docs", "P1", "done", NOW, {"result": "done"})
    assert st.logs("docs") == [{"result": "done"}]


def test_a_plans_status_is_its_actions(db: Database) -> None:
    st = SyncStore(db)
    acts = Actions(ActionStore(db), FakeClock(datetime(2026, 11, 24, 9, tzinfo=UTC)))
    with db.tx():
        pid = st.insert_plan("P1", "docs", "d", {"files": []}, "U0ALICE", NOW)
        acts.create("sync", pid, "planned", digest="d")
    again = st.insert_plan("P1", "docs", "d", {"files": []}, "U0ALICE", NOW)
    assert again == "P1-2" and st.get(again) is None      # no action: not a plan (yet)
    row = st.get("P1")
    assert row is not None and (row.status, row.note, row.outcomes) == ("planned", "", [])
    with db.tx():
        assert acts.move("sync", "P1", "running", only_from=("planned",))
        st.set_result("P1", "by U0BOB", [{"repo": "r", "status": "moved"}])
    assert not acts.move("sync", "P1", "running", only_from=("planned",))
    row = st.get("P1")
    assert row is not None and (row.status, row.note) == ("running", "by U0BOB")
    assert row.outcomes == [{"repo": "r", "status": "moved"}] and row.plan["id"] == "P1"
    assert [r.id for r in st.with_status("running")] == ["P1"]
    assert st.with_status("planned") == []
    with pytest.raises(RuntimeError), db.tx():    # a fault after the move undoes the note too
        acts.move("sync", "P1", "done", only_from=("running",))
        st.set_result("P1", "target now abc")
        raise RuntimeError("crash before the commit")
    row = st.get("P1")
    assert row is not None and (row.status, row.note) == ("running", "by U0BOB")


def test_an_old_databases_plans_become_actions(db: Database) -> None:
    """A database from before the actions table: each plan's status is copied once."""
    db.migrate("sync", sync.MIGRATIONS[:4])
    old = {"P-planned": "planned", "P-done": "done", "P-failed": "failed",
           "P-dry": "dry-run", "P-running": "running"}
    with db.tx() as c:
        for pid, status in old.items():
            c.execute("INSERT INTO sync_plans(id, sync, digest, plan, requester, status,"
                      " created, note) VALUES (?, 'docs', ?, '{}', 'U0ALICE', ?, ?, 'n')",
                      (pid, f"d-{pid}", status, NOW))
    st = SyncStore(db)
    assert db.version("sync") == len(sync.MIGRATIONS) and db.version("actions") >= 1
    assert {pid: st.get(pid).status for pid in old} == old  # type: ignore[union-attr]
    acts = ActionStore(db)
    active = {pid: acts.get("sync", pid).active for pid in old}  # type: ignore[union-attr]
    assert active == {"P-planned": True, "P-done": False, "P-failed": True, "P-dry": False,
                      "P-running": True}
    assert acts.get("sync", "P-done").digest == "d-P-done"  # type: ignore[union-attr]
    assert [r.id for r in st.with_status("running")] == ["P-running"]
    SyncStore(db)                                   # a second start copies nothing twice
    assert len(acts.with_status("sync", set(old.values()))) == len(old)


def test_cadence_occurrence_claimed_once(db: Database) -> None:
    st = CadenceStore(db)
    assert st.claim("reminder:freeze:2026-11-24", "posted", NOW)
    assert not st.claim("reminder:freeze:2026-11-24", "posted", NOW)
    assert st.status("reminder:freeze:2026-11-24") == "posted"


def _job(job_id: str, when: datetime) -> Job:
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.date import DateTrigger

    sched = BackgroundScheduler(timezone=UTC)
    job = Job(sched, id=job_id, func="bot.scheduler:_unbound", args=("x", job_id), kwargs={},
              trigger=DateTrigger(when), executor="default", name="x",
              misfire_grace_time=None, coalesce=True, max_instances=1, next_run_time=when)
    return job


def test_jobstore_persists_and_claims_once(db: Database) -> None:
    st = SQLiteJobStore(db, lambda job: None)
    when = datetime(2026, 11, 24, 9, 30, 0, 123456, tzinfo=UTC)
    st.add_job(_job("j1", when))
    with pytest.raises(ConflictingIdError):
        st.add_job(_job("j1", when))
    st.add_job(_job("j2", when + timedelta(hours=1)))
    assert st.get_next_run_time() == when  # microseconds survive (double precision)
    assert [j.id for j in st.get_due_jobs(when)] == ["j1"]
    assert st.claim("j1") and not st.claim("j1")
    assert [j.id for j in st.get_all_jobs()] == ["j2"]
