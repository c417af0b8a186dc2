"""The durable outbox: channel messages the bot decided to post or update, until Slack has them.

Two tables. ``outbox_messages`` gives every message the bot posts a *key* at once (before
Slack has seen it); Slack's ``ts`` is filled in when the post is delivered. ``outbox`` holds
the operations (``post`` / ``update`` / ``file``) with their scrubbed text and blocks, their state
(``pending`` -> ``sent`` | ``superseded`` | ``failed``), attempts, the last error, when the
next attempt may run and who is delivering it (a lease, so two processes on one database
never deliver the same row). Plain SQL, ``?`` parameters, ``ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from storage.db import Database

MIGRATIONS = [
    """
    CREATE TABLE outbox_messages (
        key        TEXT PRIMARY KEY,
        channel    TEXT NOT NULL,
        thread_key TEXT,
        ts         TEXT,
        created    TEXT NOT NULL
    );
    CREATE INDEX outbox_messages_ts ON outbox_messages(channel, ts);
    CREATE TABLE outbox (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        key         TEXT NOT NULL REFERENCES outbox_messages(key),
        op          TEXT NOT NULL,
        body        TEXT NOT NULL,
        blocks      TEXT,
        filename    TEXT,
        comment     TEXT,
        state       TEXT NOT NULL DEFAULT 'pending',
        attempts    INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT,
        not_before  REAL NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_until REAL NOT NULL DEFAULT 0,
        created     TEXT NOT NULL,
        done_at     TEXT
    );
    CREATE INDEX outbox_pending ON outbox(state, id);
    CREATE INDEX outbox_key ON outbox(key, state);
    """,
]


@dataclass(frozen=True)
class MessageRow:
    """A message the bot posts: its key, where it goes, and Slack's ts once delivered."""

    key: str
    channel: str
    thread_key: str | None
    ts: str | None


@dataclass(frozen=True)
class OpRow:
    """One pending post, update or file upload, joined with the message it is about."""

    id: int
    key: str
    op: str                   # post | update | file
    text: str                 # message text, or a file's content
    blocks: list[dict] | None  # file ops: the fallback texts (posted if Slack refuses it)
    filename: str | None      # file ops: the file's name and its comment
    comment: str | None
    attempts: int
    not_before: float
    lease_until: float
    lease_owner: str | None
    channel: str
    thread_key: str | None
    ts: str | None


class OutboxStore:
    """SQL for the outbox (the delivery loop lives in :mod:`bot.outbox`)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate("outbox", MIGRATIONS)

    # --- enqueueing --------------------------------------------------------------------
    def add_post(self, key: str, channel: str, thread_key: str | None, text: str,
                 blocks: list[dict] | None, now: str) -> None:
        """A new message ``key`` and its post, in one transaction (or the caller's)."""
        with self._tx() as c:
            c.execute("INSERT INTO outbox_messages(key, channel, thread_key, ts, created) "
                      "VALUES (?, ?, ?, NULL, ?)", (key, channel, thread_key, now))
            self._insert_op(c, key, "post", text, blocks, now)

    def add_file(self, key: str, channel: str, thread_key: str | None, filename: str,
                 content: str, comment: str, fallback: list[str], now: str) -> None:
        """A file upload into the channel or a thread (its key is never updated); the
        ``fallback`` texts (posted if Slack refuses the file) ride in its blocks column."""
        with self._tx() as c:
            c.execute("INSERT INTO outbox_messages(key, channel, thread_key, ts, created) "
                      "VALUES (?, ?, ?, NULL, ?)", (key, channel, thread_key, now))
            c.execute("INSERT INTO outbox(key, op, body, blocks, filename, comment, created) "
                      "VALUES (?, 'file', ?, ?, ?, ?, ?)",
                      (key, content, json.dumps(fallback), filename, comment, now))

    def add_update(self, key: str, text: str, blocks: list[dict] | None, now: str) -> None:
        """Queue an update of ``key``; older updates not yet started are superseded.

        Two statements and no transaction of their own (they join the caller's): the insert
        first, so a crash between them leaves both updates pending, which delivery
        coalesces into the latest anyway."""
        c = self.db.conn()
        new = c.execute("INSERT INTO outbox(key, op, body, blocks, created) VALUES "
                        "(?, 'update', ?, ?, ?) RETURNING id",
                        (key, text, json.dumps(blocks) if blocks is not None else None, now)
                        ).fetchall()[0][0]
        c.execute("UPDATE outbox SET state = 'superseded', done_at = ? WHERE key = ? AND "
                  "state = 'pending' AND op = 'update' AND lease_owner IS NULL AND id < ?",
                  (now, key, new))

    def known(self, channel: str, ts: str, now: str) -> None:
        """Record a message Slack already has (posted before the outbox): key = its ts."""
        self.db.conn().execute(
            "INSERT INTO outbox_messages(key, channel, thread_key, ts, created) "
            "VALUES (?, ?, NULL, ?, ?) ON CONFLICT DO NOTHING", (ts, channel, ts, now))

    # --- lookups -----------------------------------------------------------------------
    def message(self, key: str) -> MessageRow | None:
        """The message known by ``key`` (None if the outbox never saw it)."""
        r = self.db.conn().execute("SELECT key, channel, thread_key, ts FROM outbox_messages "
                                   "WHERE key = ?", (key,)).fetchone()
        return MessageRow(r["key"], r["channel"], r["thread_key"], r["ts"]) if r else None

    def key_for_ts(self, channel: str, ts: str) -> str | None:
        """The key of the delivered message Slack knows as ``ts`` in ``channel``."""
        r = self.db.conn().execute("SELECT key FROM outbox_messages WHERE channel = ? AND "
                                   "ts = ? ORDER BY key = ts, created, key",   # an outbox key
                                   (channel, ts)).fetchone()           # over a ts kept as one
        return r["key"] if r else None

    def pending(self, limit: int = 500) -> list[OpRow]:
        """Pending operations in the order they were decided."""
        rows = self.db.conn().execute(
            "SELECT o.id, o.key, o.op, o.body, o.blocks, o.filename, o.comment, o.attempts, "
            "o.not_before, "
            "o.lease_until, o.lease_owner, m.channel, m.thread_key, m.ts FROM outbox o "
            "JOIN outbox_messages m ON m.key = o.key WHERE o.state = 'pending' "
            "ORDER BY o.id LIMIT ?", (limit,)).fetchall()
        return [OpRow(r["id"], r["key"], r["op"], r["body"],
                      json.loads(r["blocks"]) if r["blocks"] is not None else None,
                      r["filename"], r["comment"], r["attempts"], r["not_before"],
                      r["lease_until"], r["lease_owner"], r["channel"], r["thread_key"], r["ts"])
                for r in rows]

    def fail_orphans(self, now: str) -> int:
        """Fail the updates and thread replies of messages whose post failed for good."""
        cur = self.db.conn().execute(
            "UPDATE outbox SET state = 'failed', done_at = ?, last_error = "
            "'its message was never posted' WHERE state = 'pending' AND key IN ("
            "SELECT m.key FROM outbox_messages m JOIN outbox p ON p.op = 'post' AND "
            "p.state = 'failed' AND (p.key = m.key OR p.key = m.thread_key))", (now,))
        return cur.rowcount

    def backlog(self) -> tuple[int, str | None]:
        """Pending operations and when the oldest of them was decided (metrics)."""
        r = self.db.conn().execute("SELECT COUNT(*) AS n, MIN(created) AS oldest FROM outbox "
                                   "WHERE state = 'pending'").fetchone()
        return int(r["n"]), r["oldest"]

    def counts(self) -> dict[str, int]:
        """How many operations are in each state (pending, sent, superseded, failed)."""
        rows = self.db.conn().execute(
            "SELECT state, COUNT(*) AS n FROM outbox GROUP BY state").fetchall()
        return {r["state"]: r["n"] for r in rows}

    # --- delivery ------------------------------------------------------------------------
    def lease(self, op_id: int, owner: str, now: float, until: float) -> bool:
        """Compare-and-set: True only for the one deliverer that may send ``op_id`` now."""
        cur = self.db.conn().execute(
            "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id = ? AND "
            "state = 'pending' AND lease_until < ?", (owner, until, op_id, now))
        return cur.rowcount == 1

    def delivered(self, op: OpRow, ts: str | None, through: int, now: str) -> None:
        """``op`` reached Slack (a post's ts recorded); the updates of its message up to
        ``through`` are covered by what was sent."""
        mark = ("UPDATE outbox SET state = CASE WHEN id = ? THEN 'sent' ELSE 'superseded' END,"
                " done_at = ?, lease_owner = CASE WHEN id = ? THEN NULL ELSE lease_owner END"
                " WHERE id = ? OR (key = ? AND op = 'update' AND state = 'pending' AND id <= ?)")
        args = (op.id, now, op.id, op.id, op.key, through)
        if op.op != "post" or ts is None:
            self.db.conn().execute(mark, args)  # one statement: no transaction needed
            return
        with self._tx() as c:  # the post's ts and its "sent" commit together
            c.execute("UPDATE outbox_messages SET ts = ? WHERE key = ?", (ts, op.key))
            c.execute(mark, args)

    def retry_later(self, op_id: int, error: str, not_before: float) -> None:
        """A retryable failure: count the attempt, free the lease, wait until ``not_before``."""
        self.db.conn().execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, not_before = ?, "
            "lease_owner = NULL, lease_until = 0 WHERE id = ?", (error, not_before, op_id))

    def failed(self, op_id: int, error: str, now: str) -> None:
        """A permanent failure: the operation is never sent."""
        self.db.conn().execute(
            "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?, "
            "done_at = ?, lease_owner = NULL WHERE id = ?", (error, now, op_id))

    def renew_leases(self, owner: str, until: float) -> None:
        """A live deliverer keeps the rows it is sending (a dead one's lapse quickly)."""
        self.db.conn().execute("UPDATE outbox SET lease_until = ? WHERE lease_owner = ? AND "
                               "state = 'pending'", (until, owner))

    def release_leases(self, owner: str) -> None:
        """A stopping deliverer hands its unfinished rows back at once."""
        self.db.conn().execute("UPDATE outbox SET lease_owner = NULL, lease_until = 0 "
                               "WHERE lease_owner = ? AND state = 'pending'", (owner,))

    # --- helpers -------------------------------------------------------------------------
    def _insert_op(self, c: object, key: str, op: str, text: str, blocks: list[dict] | None,
                   now: str) -> None:
        c.execute("INSERT INTO outbox(key, op, body, blocks, created) VALUES (?, ?, ?, ?, ?)",  # type: ignore[attr-defined]
                  (key, op, text, json.dumps(blocks) if blocks is not None else None, now))

    def _tx(self) -> _Tx:
        return _Tx(self.db)


class _Tx:
    """``db.tx()``, or the caller's transaction when one is already open on this thread (a
    transition and the message it decides then commit together)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cm = None

    def __enter__(self):  # noqa: ANN204
        c = self.db.conn()
        if getattr(c, "in_transaction", False):   # SQLite; PostgreSQL's tx() nests itself
            return c
        self._cm = self.db.tx()
        return self._cm.__enter__()

    def __exit__(self, *exc: object) -> bool | None:
        if self._cm is not None:
            return self._cm.__exit__(*exc)  # type: ignore[arg-type]
        return None
