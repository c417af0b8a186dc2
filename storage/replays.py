"""Request ids already acted on (``trigger_id`` of slash commands and interactions), so a
signed request replayed inside Slack's 5-minute window is refused -- across restarts.

Rows older than the window (with a margin for clock skew) can never match a request whose
signature is still valid, so they are pruned as new ones arrive: the table stays bounded.
"""

from __future__ import annotations

import threading

from storage.db import Database

MIGRATIONS = [
    """
    CREATE TABLE seen_triggers (
        trigger_id TEXT PRIMARY KEY,
        seen_at    INTEGER NOT NULL
    );
    CREATE INDEX seen_triggers_at ON seen_triggers(seen_at);
    """,
]


class SeenTriggers:
    """``first_time(trigger_id, now)``: True once per id within ``keep`` seconds."""

    def __init__(self, db: Database, keep: float = 2 * 60 * 5) -> None:
        self.db, self.keep = db, keep
        self._unrecorded: dict[str, float] = {}   # seen while the database was locked
        self._lock = threading.Lock()
        db.migrate("replays", MIGRATIONS)

    def remember(self, trigger_id: str, now: float) -> bool:
        """Note ``trigger_id`` in memory only (the database is locked: :meth:`flush` later);
        False when it was already seen."""
        with self._lock:
            if trigger_id in self._unrecorded or self._recorded(trigger_id):
                return False
            self._unrecorded[trigger_id] = now
            return True

    def flush(self) -> None:
        """Write the ids :meth:`remember` kept in memory."""
        with self._lock:
            pending = dict(self._unrecorded)
        with self.db.tx() as c:
            for trigger_id, now in pending.items():
                c.execute("INSERT INTO seen_triggers(trigger_id, seen_at) VALUES (?, ?) "
                          "ON CONFLICT DO NOTHING", (trigger_id, int(now)))
        with self._lock:
            for trigger_id in pending:
                self._unrecorded.pop(trigger_id, None)

    def _recorded(self, trigger_id: str) -> bool:
        return self.db.conn().execute("SELECT 1 FROM seen_triggers WHERE trigger_id = ?",
                                      (trigger_id,)).fetchone() is not None

    def first_time(self, trigger_id: str, now: float) -> bool:
        """Record ``trigger_id`` (epoch seconds ``now``); False when it was already seen."""
        with self._lock:
            if trigger_id in self._unrecorded:
                return False
        with self.db.tx() as c:
            c.execute("DELETE FROM seen_triggers WHERE seen_at < ?", (int(now - self.keep),))
            cur = c.execute("INSERT INTO seen_triggers(trigger_id, seen_at) VALUES (?, ?) "
                            "ON CONFLICT DO NOTHING", (trigger_id, int(now)))
            return cur.rowcount == 1

    def count(self) -> int:
        return self.db.conn().execute("SELECT COUNT(*) FROM seen_triggers").fetchone()[0]
