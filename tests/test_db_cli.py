"""``relbot db migrate`` and ``relbot db copy`` as real subprocesses, on both backends."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from storage.schema import COMPONENTS
from tests.cli import relbot
from tests.rollback_fixtures import rollback_chat
from tests.test_rollback_immediate import START


def test_migrate_creates_then_is_idempotent(db_url: str, tmp_path: Path) -> None:
    first = relbot("db", "migrate", "--db", db_url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "migrated audit 0 -> " in first.stdout and "scheduler 0 -> 2" in first.stdout
    again = relbot("db", "migrate", "--db", db_url, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"schema up to date ({len(COMPONENTS)} components)" in again.stdout


def test_migrate_takes_the_url_from_the_environment(pg_url: str, tmp_path: Path) -> None:
    r = relbot("db", "migrate", cwd=tmp_path, env={"RELBOT_DATABASE_URL": pg_url})
    assert r.returncode == 0 and "migrated" in r.stdout, r.stderr
    assert not (tmp_path / "relbot.db").exists()


def test_every_component_a_running_bot_creates_is_registered(make_chat) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", START)
    got = {r[0] for r in chat.svc.db.conn().execute("SELECT component FROM schema_version")}
    assert got <= set(COMPONENTS), f"add {got - set(COMPONENTS)} to storage/schema.py"


def _installed(make_chat) -> tuple[Path, dict]:
    """A SQLite install with a finished RB-IMM: rollbacks, locks, audit, scheduled jobs."""
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", START)
    assert chat.svc.locks.frozen("api") is not None
    summary = {"audit": chat.svc.audit.count(), "jobs": len(chat.svc.scheduler.jobs())}
    assert summary["jobs"] >= 1  # the postmortem reminder
    db, cfg = Path(chat.db_path), chat.config_path
    chat.close()
    return db, {**summary, "config": cfg}


def test_copy_sqlite_to_postgres_copies_everything_and_verifies(make_chat, pg_url: str,
                                                                 tmp_path: Path) -> None:
    db, info = _installed(make_chat)
    cfg = str(info["config"])
    r = relbot("db", "copy", "--from", f"sqlite:///{db}", "--to", pg_url, "--config", cfg,
               cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"audit chain verified ({info['audit']} entries)" in r.stdout
    assert "rollbacks: 1 rows" in r.stdout and "freezes: 1 rows" in r.stdout
    # the destination is a working install: the bot's own commands read it
    v = relbot("audit", "verify", "--db", pg_url, "--config", cfg, cwd=tmp_path)
    assert v.returncode == 0 and f"{info['audit']} entries" in v.stdout, v.stdout + v.stderr
    ls = relbot("rollback", "list", "--db", pg_url, "--config", cfg, cwd=tmp_path)
    assert ls.returncode == 0 and "RB-0001" in ls.stdout, ls.stderr
    # copying again never merges into data already there
    again = relbot("db", "copy", "--from", f"sqlite:///{db}", "--to", pg_url, "--config", cfg,
                   cwd=tmp_path)
    assert again.returncode == 2 and "is not empty" in again.stderr
    assert "audit_log (" in again.stderr


def test_copy_refuses_to_say_ok_when_the_chain_is_broken(make_chat, db_url: str,
                                                         tmp_path: Path) -> None:
    db, info = _installed(make_chat)
    raw = sqlite3.connect(db)
    raw.execute("DROP TRIGGER audit_log_no_update")
    raw.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    raw.commit()
    raw.close()
    dest = db_url if "postgresql" in db_url else f"sqlite:///{tmp_path / 'copy.db'}"
    r = relbot("db", "copy", "--from", f"sqlite:///{db}", "--to", dest, "--config",
               str(info["config"]), cwd=tmp_path)
    assert r.returncode == 1
    assert "FAILED: audit chain at the destination broken at entry 2" in r.stdout
    assert "ok:" not in r.stdout


def test_copy_from_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    r = relbot("db", "copy", "--from", f"sqlite:///{tmp_path / 'nope.db'}", "--to",
               f"sqlite:///{tmp_path / 'new.db'}", cwd=tmp_path)
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
