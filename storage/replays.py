"""Request ids already acted on (``trigger_id`` of slash commands and interactions), so a
signed request replayed inside Slack's 5-minute window is refused -- across restarts.

Rows older than the window (with a margin for clock skew) can never match a request whose
signature is still valid, so they are pruned as new ones arrive: the table stays bounded.
"""

from __future__ import annotations

import threading
from contextlib import nullcontext
from dataclasses import dataclass

from storage.db import Database

PRUNE_EVERY = 60.0  # seconds between deletes of rows past the window
_BATCH = 64          # ids recorded by one INSERT at most

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
        self._pruned = 0.0  # when rows past the window were last deleted
        self._turn = threading.Condition()   # first_time's callers: one writes for all
        self._queue: list[_Ticket] = []
        self._writing = False
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

    def first_time(self, trigger_id: str, now: float, wait: float | None = None) -> bool:
        """Record ``trigger_id`` (epoch seconds ``now``); False when it was already seen.

        Concurrent callers are committed together: the first becomes the writer and records
        every id queued until its statement runs (one multi-row INSERT), the others wait for
        that answer. With ``wait`` the writer waits at most that long for the write lock
        (:meth:`Database.briefly`); then every caller of the batch gets DatabaseBusy."""
        with self._lock:
            if trigger_id in self._unrecorded:
                return False
        ticket = _Ticket(trigger_id, int(now))
        with self._turn:
            self._queue.append(ticket)
        while True:
            with self._turn:
                while self._writing and not ticket.done:
                    self._turn.wait()
                if ticket.done:
                    return ticket.answer()
                self._writing = True
                batch, self._queue = self._queue[:_BATCH], self._queue[_BATCH:]
            try:
                self._record(batch, now, wait)
            finally:
                with self._turn:
                    self._writing = False
                    self._turn.notify_all()

    def _record(self, batch: list[_Ticket], now: float, wait: float | None) -> None:
        """One INSERT for ``batch``; each ticket gets its answer (or the error)."""
        prune = now - self._pruned >= PRUNE_EVERY
        values = ", ".join("(?, ?)" for _ in batch)
        params = [x for t in batch for x in (t.trigger_id, t.seen_at)]
        try:
            with self.db.briefly(wait) if wait is not None else nullcontext():
                if prune:
                    self.db.write("DELETE FROM seen_triggers WHERE seen_at < ?",
                                  (int(now - self.keep),))
                    self._pruned = now
                new = {r[0] for r in self.db.write(
                    f"INSERT INTO seen_triggers(trigger_id, seen_at) VALUES {values} "  # noqa: S608
                    "ON CONFLICT DO NOTHING RETURNING trigger_id", params).fetchall()}
        except Exception as exc:  # each caller of the batch raises it
            for t in batch:
                t.error, t.done = exc, True
            return
        for t in batch:  # the same id twice in one batch: only the first is new
            t.first, t.done = t.trigger_id in new, True
            new.discard(t.trigger_id)

    def count(self) -> int:
        return self.db.conn().execute("SELECT COUNT(*) FROM seen_triggers").fetchone()[0]


@dataclass
class _Ticket:
    """One caller of :meth:`SeenTriggers.first_time` waiting for the batch that records it."""

    trigger_id: str
    seen_at: int
    done: bool = False
    first: bool = False
    error: BaseException | None = None

    def answer(self) -> bool:
        if self.error is not None:
            raise self.error
        return self.first
