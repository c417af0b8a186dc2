"""Foundation CLI as a user runs it: check-config errors, audit verify/export, migrations."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import yaml

from bot.clock import FakeClock
from storage.audit import AuditLog
from storage.db import Database
from tests.cli import relbot, relbot_process

GOOD = """\
channel: C0RELEASES
timezone: Europe/Berlin
approvers: [U0ALICE, "@release-managers"]
approval:
  reactions: [white_check_mark]
  quorum: 1
"""


def test_valid_config_exits_0(tmp_path: Path) -> None:
    (tmp_path / "relbot.yml").write_text(GOOD)
    r = relbot_process("check-config", "relbot.yml", cwd=tmp_path)   # `python -m bot` itself
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout and "C0RELEASES" in r.stdout


def test_missing_rollback_script_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "relbot.yml").write_text(GOOD + "permissions:\n  rollback: [U0ALICE]\n"
                                         "rollback:\n  products:\n    api:\n"
                                         "      command: [./deploy.sh, '{version}']\n"
                                         "      health_check: ['true']\n")
    r = relbot("check-config", "relbot.yml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "warning: rollback.products.api.command: ./deploy.sh not found" in r.stdout
    assert "health_check" not in r.stdout          # `true` is on PATH
    (tmp_path / "deploy.sh").write_text("#!/bin/sh\n")
    r = relbot("check-config", "relbot.yml", cwd=tmp_path)
    assert "warning" not in r.stdout


def test_every_error_is_listed_with_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "relbot.yml").write_text(
        "channel: C0RELEASES\n"                 # 1
        "timezone: Mars/Olympus\n"              # 2
        "approvers: [U0ALICE]\n"                # 3
        "aproval:\n"                            # 4  typo -> did you mean
        "  quorum: 2\n"                         # 5
        "permissions:\n"                        # 6
        "  release: [U0ALICE]\n"                # 7
        "  deploy: [U0BOB]\n"                   # 8  unknown key
    )
    r = relbot_process("check-config", "relbot.yml", cwd=tmp_path)   # exit 1 through sys.exit
    assert r.returncode == 1
    err = r.stderr
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("relbot.yml:")]
    assert len(lines) >= 3, err
    assert any(ln.startswith("relbot.yml:2: timezone:") for ln in lines), err
    assert any(ln.startswith("relbot.yml:4: aproval:") and "did you mean 'approval'" in ln
               for ln in lines), err
    assert any(ln.startswith("relbot.yml:8: permissions.deploy:") for ln in lines), err


def test_bad_quorum_and_bad_literal(tmp_path: Path) -> None:
    (tmp_path / "relbot.yml").write_text(
        "channel: C0RELEASES\n"
        "timezone: UTC\n"
        "approvers: [U0ALICE]\n"
        "approval:\n"
        "  quorum: 0\n"                          # 5
        "  allow_self_approval: maybe\n"         # 6
        "syncs:\n"
        "  - name: docs\n"
        "    type: sideways\n"                   # 9
    )
    r = relbot("check-config", "relbot.yml", cwd=tmp_path)
    assert r.returncode == 1
    err = r.stderr
    assert "relbot.yml:5: approval.quorum:" in err, err
    assert "relbot.yml:6: approval.allow_self_approval:" in err, err
    assert "relbot.yml:9: syncs[0].type: must be one of upstream, downstream, cross-repo, " \
           "config" in err, err


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "relbot.yml").write_text("channel: C0RELEASES\ntimezone: [UTC\napprovers: []\n")
    r = relbot("check-config", "relbot.yml", cwd=tmp_path)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("relbot.yml:"), r.stderr
    line = int(r.stderr.split(":")[1])
    assert line in (2, 3), r.stderr


# --- audit -----------------------------------------------------------------------------

def _filled_db(path: Path, n: int = 5) -> AuditLog:
    clock = FakeClock("2026-11-24T09:00:00+00:00")
    log = AuditLog(Database(path), clock)
    for i in range(n):
        log.append("U0ALICE", "command", "/release", {"i": i})
        clock.advance(hours=1)
    return log


def test_audit_chain_links_each_entry_to_the_previous(tmp_path: Path) -> None:
    log = _filled_db(tmp_path / "a.db", 3)
    e = list(log.entries())
    assert [x.seq for x in e] == [1, 2, 3]
    assert e[0].prev_hash == "0" * 64
    assert e[1].prev_hash == e[0].hash and e[2].prev_hash == e[1].hash
    assert log.verify().ok and log.verify().count == 3


def test_audit_verify_cli_intact_then_tampered(tmp_path: Path) -> None:
    db = tmp_path / "relbot.db"
    _filled_db(db, 5).db.close()
    r = relbot("audit", "verify", "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert "5 entries" in r.stdout
    r = relbot("--db", str(db), "audit", "verify", cwd=tmp_path)   # before the subcommand too
    assert r.returncode == 0 and "5 entries" in r.stdout, r.stderr

    raw = sqlite3.connect(db)
    try:
        raw.execute("UPDATE audit_log SET payload = '{\"i\":99}' WHERE seq = 3")
        raise AssertionError("UPDATE should be refused by the trigger")
    except sqlite3.DatabaseError as exc:
        assert "append-only" in str(exc)
    try:
        raw.execute("DELETE FROM audit_log WHERE seq = 2")
        raise AssertionError("DELETE should be refused by the trigger")
    except sqlite3.DatabaseError as exc:
        assert "append-only" in str(exc)
    raw.execute("DROP TRIGGER audit_log_no_update")
    raw.execute("UPDATE audit_log SET payload = '{\"i\":99}' WHERE seq = 3")
    raw.commit()
    raw.close()

    r = relbot("audit", "verify", "--db", str(db))
    assert r.returncode == 1
    assert "entry 3" in r.stdout, r.stdout


def test_audit_export_jsonl_yaml_since(tmp_path: Path) -> None:
    db = tmp_path / "relbot.db"
    clock = FakeClock("2026-11-24T09:00:00+00:00")
    log = AuditLog(Database(db), clock)
    log.append("U0ALICE", "command", "/release", {"text": "help"})
    clock.advance(days=2)
    log.append("U0BOB", "command", "/sync", {"text": "list"})
    log.db.close()

    r = relbot("audit", "export", "--db", str(db))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert [(x["seq"], x["actor"], x["subject"]) for x in rows] == [
        (1, "U0ALICE", "/release"), (2, "U0BOB", "/sync")]
    assert rows[1]["prev_hash"] == rows[0]["hash"]

    r = relbot("audit", "export", "--db", str(db), "--format", "yaml", "--since", "2026-11-25")
    assert r.returncode == 0, r.stderr
    data = yaml.safe_load(r.stdout)
    assert [x["actor"] for x in data] == ["U0BOB"]
    assert data[0]["payload"] == {"text": "list"}

    # an offset is converted to UTC: 10:30+02:00 is 08:30Z, before the second entry (09:00Z)
    r = relbot("audit", "export", "--db", str(db), "--since", "2026-11-26T10:30:00+02:00")
    assert [json.loads(ln)["actor"] for ln in r.stdout.splitlines()] == ["U0BOB"]
    r = relbot("audit", "export", "--db", str(db), "--since", "2026-11-26T09:30:00Z")
    assert r.returncode == 0 and r.stdout.strip() == ""

    r = relbot("audit", "export", "--db", str(db), "--since", "yesterday")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_db_from_older_schema_opens_without_losing_data(tmp_path: Path) -> None:
    """A file written by an older bot (no events/approvals/locks tables yet) is upgraded."""
    db = tmp_path / "old.db"
    raw = sqlite3.connect(db)
    raw.executescript(
        "CREATE TABLE schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL);")
    from storage.audit import GENESIS, MIGRATIONS, entry_hash
    from storage.db import _split_sql

    for stmt in _split_sql(MIGRATIONS[0]):
        raw.execute(stmt)
    raw.execute("INSERT INTO schema_version VALUES ('audit', 1)")
    h = entry_hash(1, "2025-01-01T00:00:00Z", "system", "bot.started", "relbot", "{}", GENESIS)
    raw.execute("INSERT INTO audit_log VALUES (1, '2025-01-01T00:00:00Z', 'system', "
                "'bot.started', 'relbot', '{}', ?, ?)", (GENESIS, h))
    raw.commit()
    raw.close()

    from storage.events import SeenEvents

    d = Database(db)
    log = AuditLog(d)
    events = SeenEvents(d)
    assert events.first_time("Ev1", "2026-01-01T00:00:00Z")
    log.append("system", "bot.started", "relbot", {})
    assert log.verify().ok and log.count() == 2
    assert list(log.entries())[0].ts == "2025-01-01T00:00:00Z"
    assert d.version("events") == 1 and d.version("audit") == len(MIGRATIONS)
    d.close()
    r = relbot("audit", "verify", "--db", str(db))
    assert r.returncode == 0 and "2 entries" in r.stdout
