"""Storage performance behaviour: seen events pruned, one writer, indexed lookups."""

from __future__ import annotations

import threading
from pathlib import Path

from storage.audit import AuditLog
from storage.db import Database
from storage.events import SeenEvents


def test_seen_events_pruned_past_the_retry_window(tmp_path: Path) -> None:
    db = Database(tmp_path / "r.db")
    ev = SeenEvents(db)
    assert ev.first_time("Ev1", "2026-01-01T00:00:00Z")
    assert not ev.first_time("Ev1", "2026-01-01T00:05:00Z")  # a Slack retry: dropped
    assert ev.first_time("Ev2", "2026-01-01T02:00:00Z")      # later: Ev1 is pruned
    ids = [r[0] for r in db.conn().execute("SELECT event_id FROM seen_events")]
    assert ids == ["Ev2"]


def test_concurrent_writers_all_land_in_one_chain(tmp_path: Path) -> None:
    db = Database(tmp_path / "r.db")
    log = AuditLog(db)

    def work(n: int) -> None:
        for i in range(25):
            log.append(f"U{n}", "test.write", f"S{n}-{i}", {})
    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    res = log.verify()
    assert res.ok and res.count == 200


def test_lookups_by_key_use_an_index(tmp_path: Path, make_chat) -> None:
    chat = make_chat()
    conn = chat.svc.db.conn()
    queries = {
        "SELECT * FROM approval_requests WHERE kind = ? AND subject = ?": ("sync", "x"),
        "SELECT * FROM approval_requests WHERE status = 'open'": (),
        "SELECT * FROM audit_log WHERE action LIKE ? ESCAPE '\\'": ("sync.%",),
        "SELECT * FROM sync_plans WHERE status = ?": ("planned",),
        "SELECT * FROM sync_log WHERE sync = ? ORDER BY started DESC": ("docs",),
        "SELECT * FROM sync_log WHERE plan_id = ?": ("DR-1",),
        "SELECT * FROM releases WHERE version = ?": ("1.2.0",),
    }
    for sql, args in queries.items():
        plan = " ".join(r["detail"] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, args))
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, (sql, plan)
