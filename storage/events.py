"""Slack event ids already processed (Slack retries deliveries: record each once)."""

from __future__ import annotations

from storage.db import Database

MIGRATIONS = [
    """
    CREATE TABLE seen_events (
        event_id TEXT PRIMARY KEY,
        seen_at  TEXT NOT NULL
    );
    """,
]


class SeenEvents:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate("events", MIGRATIONS)

    def first_time(self, event_id: str, now: str) -> bool:
        """Record ``event_id``; True only the first time it is seen."""
        cur = self.db.conn().execute(
            "INSERT OR IGNORE INTO seen_events(event_id, seen_at) VALUES (?, ?)", (event_id, now))
        return cur.rowcount == 1

    def prune(self, before: str) -> int:
        cur = self.db.conn().execute("DELETE FROM seen_events WHERE seen_at < ?", (before,))
        return cur.rowcount
