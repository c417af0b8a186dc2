"""Rollback records (all rollback SQL lives here).

One row per rollback; ``active`` is 1 while it is running or waiting for a human, and a
partial unique index allows one active rollback per product, so of two racing requests
exactly one is created.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from storage.db import Database
from storage.dialect import integrity_errors

MIGRATIONS = [
    """
    CREATE TABLE rollbacks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        product TEXT NOT NULL,
        status TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        procedure TEXT NOT NULL,
        kind TEXT NOT NULL,
        requester TEXT NOT NULL,
        declared TEXT NOT NULL,
        channel TEXT NOT NULL DEFAULT '',
        ts TEXT NOT NULL DEFAULT '',
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE UNIQUE INDEX rollbacks_one_active ON rollbacks(product) WHERE active = 1;
    """,
]

ACTIVE = ("awaiting-approval", "scheduled", "executing", "failed")


class Conflict(Exception):  # noqa: N818
    """The product already has an active rollback."""


@dataclass
class RollbackRow:
    """A rollback; ``data`` holds the request, decision, steps, commands and checklists."""

    num: int
    product: str
    status: str
    procedure: str
    kind: str
    requester: str
    declared: str
    channel: str
    ts: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return rollback_id(self.num)


def rollback_id(num: int) -> str:
    return f"RB-{num:04d}"


def parse_id(text: str) -> int | None:
    """``RB-0007`` / ``rb-7`` / ``7`` -> 7; None when it is not a rollback ID."""
    t = text.strip().upper().removeprefix("RB-")
    return int(t) if t.isdigit() else None


class RollbackStore:
    """Persistence for rollbacks."""

    def __init__(self, db: Database,
                 scrub: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        self.db = db
        self._scrub = scrub or (lambda d: d)  # secrets never land in the record
        db.migrate("rollback", MIGRATIONS)

    def create(self, product: str, status: str, procedure: str, kind: str, requester: str,
               declared: str, data: dict[str, Any]) -> RollbackRow:
        """Insert an active rollback; :class:`Conflict` when the product already has one."""
        try:
            with self.db.tx() as c:
                cur = c.execute(
                    # MAX+1 under the writer lock: numbers stay gapless on PostgreSQL too,
                    # where a refused insert would otherwise use up a sequence value.
                    "INSERT INTO rollbacks(id, product, status, active, procedure, kind,"
                    " requester, declared, data) VALUES ((SELECT COALESCE(MAX(id), 0) + 1"
                    " FROM rollbacks),?,?,1,?,?,?,?,?) RETURNING id",
                    (product, status, procedure, kind, requester, declared,
                     json.dumps(self._scrub(data), sort_keys=True)))
                num = int(cur.fetchone()[0])
        except integrity_errors():
            raise Conflict(product) from None
        row = self.get(num)
        assert row is not None
        return row

    def get(self, num: int) -> RollbackRow | None:
        r = self.db.conn().execute("SELECT * FROM rollbacks WHERE id = ?", (num,)).fetchone()
        return self._load(r) if r else None

    def by_message(self, channel: str, ts: str) -> RollbackRow | None:
        """The rollback whose message is ``channel``/``ts`` (what a click was made on)."""
        r = self.db.conn().execute("SELECT * FROM rollbacks WHERE channel = ? AND ts = ? "
                                   "AND ts <> ''", (channel, ts)).fetchone()
        return self._load(r) if r else None

    def active_for(self, product: str) -> RollbackRow | None:
        r = self.db.conn().execute(
            "SELECT * FROM rollbacks WHERE product = ? AND active = 1", (product,)).fetchone()
        return self._load(r) if r else None

    def active(self) -> list[RollbackRow]:
        """Rollbacks running or waiting for a human, oldest first."""
        rows = self.db.conn().execute(
            "SELECT * FROM rollbacks WHERE active = 1 ORDER BY id").fetchall()
        return [self._load(r) for r in rows]

    def done_for(self, product: str, statuses: tuple[str, ...] = ("done",)
                 ) -> list[RollbackRow]:
        """The product's rollbacks in ``statuses`` (default: completed), oldest first."""
        rows = self.db.conn().execute(
            f"SELECT * FROM rollbacks WHERE product = ? AND status IN "
            f"({','.join('?' * len(statuses))}) ORDER BY id", (product, *statuses)).fetchall()
        return [self._load(r) for r in rows]

    def recent(self, limit: int = 10) -> list[RollbackRow]:
        rows = self.db.conn().execute(
            "SELECT * FROM rollbacks ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [self._load(r) for r in rows]

    def set_message(self, num: int, channel: str, ts: str) -> None:
        with self.db.tx() as c:
            c.execute("UPDATE rollbacks SET channel = ?, ts = ? WHERE id = ?", (channel, ts, num))

    def set_status(self, num: int, status: str, only_from: tuple[str, ...] = ()) -> bool:
        """Move to ``status`` (only from one of ``only_from`` when given); True if it moved.

        Exactly one of several racing callers wins a guarded move.
        """
        active = 1 if status in ACTIVE else 0
        sql = "UPDATE rollbacks SET status = ?, active = ? WHERE id = ?"
        params: list[Any] = [status, active, num]
        if only_from:
            sql += f" AND status IN ({','.join('?' * len(only_from))})"
            params += list(only_from)
        with self.db.tx() as c:
            return c.execute(sql, params).rowcount == 1

    def update_data(self, num: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge ``changes`` into the row's data (top-level keys) atomically."""
        return self.modify(num, lambda data: data.update(changes))

    def modify(self, num: int, change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
        """Read, ``change`` in place and write the row's data in one transaction (two
        concurrent checklist ticks both land)."""
        with self.db.tx() as c:
            r = c.execute("SELECT data FROM rollbacks WHERE id = ?", (num,)).fetchone()
            data = json.loads(r["data"]) if r else {}
            change(data)
            data = self._scrub(data)
            c.execute("UPDATE rollbacks SET data = ? WHERE id = ?",
                      (json.dumps(data, sort_keys=True), num))
        return data

    def _load(self, r: Any) -> RollbackRow:
        return RollbackRow(num=r["id"], product=r["product"], status=r["status"],
                           procedure=r["procedure"], kind=r["kind"], requester=r["requester"],
                           declared=r["declared"], channel=r["channel"], ts=r["ts"],
                           data=json.loads(r["data"]))
