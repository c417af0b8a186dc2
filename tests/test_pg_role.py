"""docs/deploy.md's restricted PostgreSQL role: the replicas' role cannot rewrite the audit
log even without the triggers (no UPDATE/DELETE/TRUNCATE privilege, not the owner)."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from storage.audit import AuditLog
from storage.db import Database
from storage.dialect import DatabaseError
from storage.schema import migrate_all


def _as_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


def test_app_role_without_update_delete_cannot_rewrite_the_audit_log(pg_url: str) -> None:
    owner = Database(pg_url)
    migrate_all(owner)
    AuditLog(owner).append("system", "bot.started")
    schema = owner.conn().execute("SELECT current_schema()").fetchone()[0]
    owner.close()
    role = f"relbot_app_{secrets.token_hex(3)}"
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute(f'CREATE ROLE "{role}" LOGIN')
        c.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
        c.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" '
                  f'TO "{role}"')
        c.execute(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"')
        c.execute(f'REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM "{role}"')
    try:
        app = Database(_as_user(pg_url, role))
        try:
            log = AuditLog(app)             # the schema is up to date: nothing to create
            log.append("U0ALICE", "command", "/release help")
            assert log.verify().ok and log.count() == 2
            for sql in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log",
                        "TRUNCATE audit_log", "DROP TRIGGER audit_log_no_update ON audit_log"):
                with pytest.raises(DatabaseError, match="permission denied|must be owner"):
                    app.conn().execute(sql)
            assert log.verify().ok and log.count() == 2
        finally:
            app.close()
    finally:
        with psycopg.connect(pg_url, autocommit=True) as c:
            c.execute(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER')
            c.execute(f'DROP OWNED BY "{role}"')
            c.execute(f'DROP ROLE "{role}"')
