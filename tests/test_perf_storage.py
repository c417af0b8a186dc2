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
        "SELECT * FROM actions a JOIN sync_plans p ON p.id = a.subject"
        " WHERE a.kind = 'sync' AND a.status = ?": ("planned",),
        "SELECT * FROM sync_plans p JOIN actions a ON a.kind = 'sync' AND a.subject = p.id"
        " WHERE p.id = ?": ("DR-1",),
        "SELECT * FROM sync_log WHERE sync = ? ORDER BY started DESC": ("docs",),
        "SELECT * FROM sync_log WHERE plan_id = ?": ("DR-1",),
        "SELECT * FROM releases WHERE version = ?": ("1.2.0",),
    }
    for sql, args in queries.items():
        plan = " ".join(r["detail"] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, args))
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, (sql, plan)


def test_calendar_file_is_reread_only_when_it_changes(tmp_path: Path) -> None:
    import os

    from bot.cadence.loader import effective
    from bot.config import load_config
    cal = tmp_path / "calendar.yml"
    cal.write_text("calendar:\n  cycle_start: 2026-01-05\n")
    cfg_file = tmp_path / "relbot.yml"
    cfg_file.write_text("channel: C0RELEASES\ncalendar: {file: calendar.yml}\n")
    cfg = load_config(cfg_file)
    first = effective(cfg)
    assert effective(cfg) is first                       # same file: the parsed model again
    cal.write_text("calendar:\n  cycle_start: 2026-01-12\n")
    st = cal.stat()
    os.utime(cal, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    again = effective(cfg)
    assert again is not None and str(again.cycle_start) == "2026-01-12"


def test_cli_imports_only_the_feature_it_runs(tmp_path: Path) -> None:
    import subprocess
    import sys
    code = ("import sys, bot.cli as c; c.build_parser(['calendar']); "
            "print(sorted(m for m in sys.modules if m.endswith('.cli') and m != 'bot.cli'))")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=root, check=True).stdout
    assert out.strip() == "['bot.cadence.cli']"
    code = code.replace("['calendar']", "['audit', 'verify']")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=root, check=True).stdout
    assert out.strip() == "[]"


def _tamper(db_path: Path, seq: int) -> None:
    import sqlite3
    raw = sqlite3.connect(db_path)
    raw.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    raw.execute("UPDATE audit_log SET actor = 'U0MALLORY' WHERE seq = ?", (seq,))
    raw.commit()
    raw.close()


def test_evidence_range_is_checked_from_its_first_entry_not_from_genesis(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    log = AuditLog(Database(path))
    for i in range(10):
        log.append("U0ALICE", "test.old", f"OLD-{i}", {})
    for i in range(3):
        log.append("U0BOB", "test.step", "RB-0001", {"i": i})
    log.append("U0BOB", "test.after", "OTHER", {})
    rng = log.range_of("RB-0001")
    assert log.check_range(rng) == []
    _tamper(path, 3)                     # before the record's range: not its concern
    fresh = AuditLog(Database(path))
    assert fresh.check_range(rng) == []
    assert not fresh.verify().ok         # `relbot audit verify` still sees it
    _tamper(path, 12)                    # inside the range
    assert fresh.check_range(rng) == ["audit chain broken at seq 12: hash does not match "
                                      "contents"]


def test_evidence_range_is_checked_on_to_the_head(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    log = AuditLog(Database(path))
    for i in range(3):
        log.append("U0BOB", "test.step", "RB-0001", {"i": i})
    log.append("U0BOB", "test.after", "OTHER", {})
    rng = log.range_of("RB-0001")
    _tamper(path, 4)                     # after the range, before any checkpoint: the link
    assert AuditLog(Database(path)).check_range(rng) == [
        "audit chain broken at seq 4: hash does not match contents"]
