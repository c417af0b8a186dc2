"""Slack event ids already processed (Slack retries deliveries: record each once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.db import Database

# Slack retries a delivery three times within minutes; an hour leaves a wide margin.
RETRY_WINDOW = timedelta(hours=1)
PRUNE_EVERY = timedelta(minutes=10)

MIGRATIONS = [
    """
    CREATE TABLE seen_events (
        event_id TEXT PRIMARY KEY,
        seen_at  TEXT NOT NULL
    );
    """,
]


class SeenEvents:
    """Event ids seen within Slack's retry window (older ones are pruned as time passes)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate("events", MIGRATIONS)
        self._pruned: datetime | None = None

    def first_time(self, event_id: str, now: str) -> bool:
        """Record ``event_id``; True only the first time it is seen (within the window)."""
        self._maybe_prune(now)
        # One autocommit statement (no BEGIN/COMMIT pair); a read-only database is reported
        # as DatabaseUnwritable, not a raw sqlite error.
        cur = self.db.write("INSERT INTO seen_events(event_id, seen_at) VALUES (?, ?) "
                            "ON CONFLICT DO NOTHING", (event_id, now))
        return cur.rowcount == 1

    def _maybe_prune(self, now: str) -> None:
        at = datetime.fromisoformat(now.replace("Z", "+00:00")).astimezone(UTC)
        if self._pruned is not None and self._pruned <= at < self._pruned + PRUNE_EVERY:
            return
        self._pruned = at
        self.prune((at - RETRY_WINDOW).strftime("%Y-%m-%dT%H:%M:%SZ"))

    def prune(self, before: str) -> int:
        """Forget the ids seen before ``before`` (ISO UTC); returns how many."""
        cur = self.db.write("DELETE FROM seen_events WHERE seen_at < ?", (before,))
        return cur.rowcount
