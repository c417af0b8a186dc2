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
    thread_ts: str | None = None
    """A reply's thread parent's Slack ts as read with it (None while the parent is queued),
    when ``parent_read``: the parent is an outbox message."""
    parent_read: bool = False


ORPHANED = "its message was never posted"
"""The error of an update or reply failed because its message's post failed for good."""


@dataclass(frozen=True)
class OpStatus:
    """An operation as an operator sees it: what, where, how it went (its text left out)."""

    id: int
    key: str
    op: str
    channel: str
    state: str
    attempts: int
    error: str | None
    created: str
    done_at: str | None
    preview: str              # the start of the text (a file: its name)


_STATUS = ("SELECT o.id, o.key, o.op, m.channel, o.state, o.attempts, o.last_error, o.created, "
           "o.done_at, COALESCE(o.filename, SUBSTR(o.body, 1, 60)) AS preview FROM outbox o "
           "JOIN outbox_messages m ON m.key = o.key")


class OutboxStore:
    """SQL for the outbox (the delivery loop lives in :mod:`bot.outbox`)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate("outbox", MIGRATIONS)

    # --- enqueueing --------------------------------------------------------------------
    def add_post(self, key: str, channel: str, thread_key: str | None, text: str,
                 blocks: list[dict] | None, now: str) -> None:
        """A new message ``key`` and its post, in one transaction (or the caller's)."""
        with self.db.tx() as c:
            c.execute("INSERT INTO outbox_messages(key, channel, thread_key, ts, created) "
                      "VALUES (?, ?, ?, NULL, ?)", (key, channel, thread_key, now))
            self._insert_op(c, key, "post", text, blocks, now)

    def add_file(self, key: str, channel: str, thread_key: str | None, filename: str,
                 content: str, comment: str, fallback: list[str], now: str) -> None:
        """A file upload into the channel or a thread (its key is never updated); the
        ``fallback`` texts (posted if Slack refuses the file) ride in its blocks column."""
        with self.db.tx() as c:
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
            "o.lease_until, o.lease_owner, m.channel, m.thread_key, m.ts, p.key AS p_key, "
            "p.ts AS p_ts FROM outbox o JOIN outbox_messages m ON m.key = o.key "
            "LEFT JOIN outbox_messages p ON p.key = m.thread_key WHERE o.state = 'pending' "
            "ORDER BY o.id LIMIT ?", (limit,)).fetchall()
        return [OpRow(r["id"], r["key"], r["op"], r["body"],
                      json.loads(r["blocks"]) if r["blocks"] is not None else None,
                      r["filename"], r["comment"], r["attempts"], r["not_before"],
                      r["lease_until"], r["lease_owner"], r["channel"], r["thread_key"], r["ts"],
                      r["p_ts"], r["p_key"] is not None)
                for r in rows]

    def fail_orphans(self, now: str) -> list[OpStatus]:
        """Fail the updates and thread replies of messages whose post failed for good;
        returns them."""
        rows = self.db.conn().execute(
            "UPDATE outbox SET state = 'failed', done_at = ?, last_error = ? WHERE state = "
            "'pending' AND key IN (SELECT m.key FROM outbox_messages m JOIN outbox p ON "
            "p.op = 'post' AND p.state = 'failed' AND (p.key = m.key OR p.key = m.thread_key))"
            " RETURNING id", (now, ORPHANED)).fetchall()
        return self.statuses([r["id"] for r in rows])

    def statuses(self, ids: list[int]) -> list[OpStatus]:
        """The operations ``ids``, in id order."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self.db.conn().execute(f"{_STATUS} WHERE o.id IN ({marks}) ORDER BY o.id",
                                      ids).fetchall()
        return [OpStatus(*r) for r in rows]

    def listing(self, state: str | None, limit: int) -> list[OpStatus]:
        """The newest ``limit`` operations (in ``state``, unless None), newest first."""
        where, args = (" WHERE o.state = ?", [state]) if state else ("", [])
        rows = self.db.conn().execute(f"{_STATUS}{where} ORDER BY o.id DESC LIMIT ?",
                                      (*args, limit)).fetchall()
        return [OpStatus(*r) for r in rows]

    def requeue(self, keys: list[str] | None) -> list[int]:
        """Make failed operations pending again, as new (``None``: every failed one): those
        of the messages ``keys``, of their thread's parent and the replies in their thread
        that failed with them. Returns the ids."""
        reset = ("UPDATE outbox SET state = 'pending', attempts = 0, not_before = 0, "
                 "lease_owner = NULL, lease_until = 0, done_at = NULL WHERE state = 'failed'")
        if keys is None:
            return [r["id"] for r in self.db.conn().execute(f"{reset} RETURNING id").fetchall()]
        marks = ",".join("?" * len(keys))
        with self.db.tx() as c:
            parents = [r["thread_key"] for r in c.execute(
                f"SELECT thread_key FROM outbox_messages WHERE key IN ({marks}) AND "
                "thread_key IS NOT NULL", keys).fetchall()]
            ks = list(dict.fromkeys([*keys, *parents]))
            m = ",".join("?" * len(ks))
            rows = c.execute(f"{reset} AND (key IN ({m}) OR (last_error = ? AND key IN ("
                             f"SELECT key FROM outbox_messages WHERE thread_key IN ({m})))) "
                             "RETURNING id", (*ks, ORPHANED, *ks)).fetchall()
        return sorted(r["id"] for r in rows)

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
        with self.db.tx() as c:  # the post's ts and its "sent" commit together
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
