"""Reminder occurrences already handled (posted or skipped): INSERT-unique per key."""

from __future__ import annotations

from collections.abc import Callable

from storage.db import Database
from storage.dialect import database_errors, integrity_errors

MIGRATIONS = ["""
CREATE TABLE cadence_occurrence (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    at TEXT NOT NULL
);
"""]


class CadenceStore:
    """Records each reminder occurrence once; a second claim of the same key fails."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate("cadence", MIGRATIONS)

    def claim(self, key: str, status: str, at: str,
              then: Callable[[], object] | None = None) -> bool:
        """Record ``key`` as ``status`` (posted/skipped); False if already recorded.
        ``then`` runs inside the same transaction (the reminder's queued message commits
        with its claim, or neither does)."""
        try:
            with self.db.tx() as conn:
                conn.execute("INSERT INTO cadence_occurrence (key, status, at) VALUES (?, ?, ?)",
                             (key, status, at))
                if then is not None:
                    then()
            return True
        except integrity_errors():
            return False

    def status(self, key: str) -> str | None:
        with self.db.tx() as conn:
            row = conn.execute("SELECT status FROM cadence_occurrence WHERE key = ?",
                               (key,)).fetchone()
        return row[0] if row else None


def active_releases(db: Database) -> list[dict]:
    """Active releases (id, product, version, step...) as the release store reads them
    (their status is their action's), or [] if its tables are not there."""
    from storage.release import active_rows

    try:
        with db.tx():
            return active_rows(db)
    except database_errors():
        return []


def failing_checks(db: Database, release_id: int) -> list[str]:
    """Check ids of a release whose result is a failure, or [] if unknown."""
    try:
        with db.tx() as conn:
            rows = conn.execute("SELECT * FROM release_checks WHERE release_id = ?",
                                (release_id,)).fetchall()
    except database_errors():
        return []
    out = []
    for r in rows:
        d = dict(r)
        if str(d.get("result", "")).lower() in ("fail", "failed", "failing", "red"):
            out.append(str(d.get("check_id") or d.get("cid") or d.get("id")))
    return out
