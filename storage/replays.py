"""Request ids already acted on (``trigger_id`` of slash commands and interactions), so a
signed request replayed inside Slack's 5-minute window is refused -- across restarts.

Rows older than the window (with a margin for clock skew) can never match a request whose
signature is still valid, so they are pruned as new ones arrive: the table stays bounded.
"""

from __future__ import annotations

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
        db.migrate("replays", MIGRATIONS)

    def first_time(self, trigger_id: str, now: float) -> bool:
        """Record ``trigger_id`` (epoch seconds ``now``); False when it was already seen."""
        with self.db.tx() as c:
            c.execute("DELETE FROM seen_triggers WHERE seen_at < ?", (int(now - self.keep),))
            cur = c.execute("INSERT INTO seen_triggers(trigger_id, seen_at) VALUES (?, ?) "
                            "ON CONFLICT DO NOTHING", (trigger_id, int(now)))
            return cur.rowcount == 1

    def count(self) -> int:
        return self.db.conn().execute("SELECT COUNT(*) FROM seen_triggers").fetchone()[0]
