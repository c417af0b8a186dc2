"""Rollback records (all rollback SQL lives here).

One row per rollback: what it is (product, procedure, requester, message, the record).
Its status lives only in ``actions`` (``storage/actions.py``, kind ``rollback``, subject
``RB-0001``, exclusive ``rollback:<product>``): every query joins it, and the actions'
slot index allows one active rollback per product, so of two racing requests exactly one
is created. Since migration 2 the ``status`` and ``active`` columns are unused (new rows
get ``''`` and 0); the migration copied their values into ``actions``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.rollback.record import RollbackRecord
from storage.actions import ActionStore
from storage.db import Database
from storage.dialect import PerDialect

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
    # Statuses move to ``actions``: each row gets its action (status and slot copied), the
    # row names it in ``action``, and the old one-active index goes (the slot index does it).
    PerDialect(sqlite="""
    ALTER TABLE rollbacks ADD COLUMN action TEXT;
    UPDATE rollbacks SET action = 'rollback:' || printf('RB-%04d', id);
    INSERT INTO actions(id, kind, subject, digest, status, active, exclusive, created, updated)
        SELECT action, 'rollback', substr(action, 10), COALESCE(json_extract(data, '$.digest'),
               ''), status, active, 'rollback:' || product, declared, declared
        FROM rollbacks WHERE action NOT IN (SELECT id FROM actions);
    DROP INDEX rollbacks_one_active;
    UPDATE rollbacks SET active = 0;
    """, postgresql="""
    ALTER TABLE rollbacks ADD COLUMN action TEXT;
    UPDATE rollbacks SET action = 'rollback:RB-' || CASE WHEN id < 10000
        THEN lpad(id::text, 4, '0') ELSE id::text END;
    INSERT INTO actions(id, kind, subject, digest, status, active, exclusive, created, updated)
        SELECT action, 'rollback', substr(action, 10), COALESCE(data::json->>'digest', ''),
               status, active, 'rollback:' || product, declared, declared
        FROM rollbacks WHERE action NOT IN (SELECT id FROM actions);
    DROP INDEX rollbacks_one_active;
    UPDATE rollbacks SET active = 0;
    """),
]

KIND = "rollback"
"""The action kind of a rollback (``actions``: ``rollback:RB-0001``)."""

_SELECT = ("SELECT r.id, r.product, a.status, r.procedure, r.kind, r.requester, r.declared,"
           " r.channel, r.ts, r.data FROM rollbacks r JOIN actions a ON a.id = r.action")


@dataclass
class RollbackRow:
    """A rollback: its columns, its status (from ``actions``) and its typed record (the
    request, decision, steps, commands, checklists...)."""

    num: int
    product: str
    status: str
    procedure: str
    kind: str
    requester: str
    declared: str
    channel: str
    ts: str
    record: RollbackRecord

    @property
    def id(self) -> str:
        return rollback_id(self.num)


def rollback_id(num: int) -> str:
    """``7`` -> ``RB-0007``."""
    return f"RB-{num:04d}"


def parse_id(text: str) -> int | None:
    """``RB-0007`` / ``rb-7`` / ``7`` -> 7; None when it is not a rollback ID."""
    t = text.strip().upper().removeprefix("RB-")
    return int(t) if t.isdigit() else None


class RollbackStore:
    """Persistence for rollbacks."""

    def __init__(self, db: Database,
                 scrub: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        """``scrub`` removes secrets from a record before it is written."""
        self.db = db
        self._scrub = scrub or (lambda d: d)  # secrets never land in the record
        ActionStore(db)  # first: rollback migration 2 copies statuses into its table
        db.migrate("rollback", MIGRATIONS)

    def create(self, product: str, procedure: str, kind: str, requester: str,
               declared: str, record: RollbackRecord) -> int:
        """Insert the rollback's row and return its number; the caller creates its action
        (status, slot) in the same transaction, so a refused one leaves nothing."""
        with self.db.tx() as c:
            # MAX+1 under the writer lock: numbers stay gapless on PostgreSQL too, where a
            # refused insert would otherwise use up a sequence value.
            num = int(c.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM rollbacks").fetchone()[0])
            c.execute("INSERT INTO rollbacks(id, product, status, active, procedure, kind,"
                      " requester, declared, data, action) VALUES (?,?,'',0,?,?,?,?,?,?)",
                      (num, product, procedure, kind, requester, declared,
                       self._dump(record),
                       f"{KIND}:{rollback_id(num)}"))
        return num

    def get(self, num: int) -> RollbackRow | None:
        """Rollback number ``num`` with its status (None: no such rollback)."""
        r = self.db.conn().execute(f"{_SELECT} WHERE r.id = ?", (num,)).fetchone()
        return self._load(r) if r else None

    def by_message(self, channel: str, ts: str) -> RollbackRow | None:
        """The rollback whose message is ``channel``/``ts`` (what a click was made on)."""
        r = self.db.conn().execute(f"{_SELECT} WHERE r.channel = ? AND r.ts = ? AND r.ts <> ''",
                                   (channel, ts)).fetchone()
        return self._load(r) if r else None

    def active_for(self, product: str) -> RollbackRow | None:
        """The product's active rollback (waiting, scheduled, executing or stopped)."""
        r = self.db.conn().execute(f"{_SELECT} WHERE r.product = ? AND a.active = 1",
                                   (product,)).fetchone()
        return self._load(r) if r else None

    def active(self) -> list[RollbackRow]:
        """Rollbacks running or waiting for a human, oldest first."""
        rows = self.db.conn().execute(
            f"{_SELECT} WHERE a.active = 1 ORDER BY r.id").fetchall()
        return [self._load(r) for r in rows]

    def done_for(self, product: str, statuses: tuple[str, ...] = ("done",)
                 ) -> list[RollbackRow]:
        """The product's rollbacks in ``statuses`` (default: completed), oldest first."""
        rows = self.db.conn().execute(
            f"{_SELECT} WHERE r.product = ? AND a.status IN ({','.join('?' * len(statuses))})"
            " ORDER BY r.id", (product, *statuses)).fetchall()
        return [self._load(r) for r in rows]

    def recent(self, limit: int = 10) -> list[RollbackRow]:
        rows = self.db.conn().execute(
            f"{_SELECT} ORDER BY r.id DESC LIMIT ?", (limit,)).fetchall()
        return [self._load(r) for r in rows]

    def set_message(self, num: int, channel: str, ts: str) -> None:
        with self.db.tx() as c:
            c.execute("UPDATE rollbacks SET channel = ?, ts = ? WHERE id = ?", (channel, ts, num))

    def update(self, num: int, **fields: Any) -> RollbackRecord:
        """Set record fields (validated by the model) in one transaction."""
        def change(rec: RollbackRecord) -> None:
            for name, value in fields.items():
                if name not in RollbackRecord.model_fields:
                    raise AttributeError(f"a rollback record has no field {name!r}")
                setattr(rec, name, value)
        return self.modify(num, change)

    def modify(self, num: int, change: Callable[[RollbackRecord], Any]) -> RollbackRecord:
        """Read the record, ``change`` it in place and write it back in one transaction
        (two concurrent checklist ticks both land); returns it as stored."""
        with self.db.tx() as c:
            r = c.execute("SELECT data FROM rollbacks WHERE id = ?", (num,)).fetchone()
            if r is None:
                raise KeyError(f"no rollback {rollback_id(num)}")
            rec = RollbackRecord.model_validate_json(r["data"])
            change(rec)
            text = self._dump(rec)
            c.execute("UPDATE rollbacks SET data = ? WHERE id = ?", (text, num))
        return RollbackRecord.model_validate_json(text)

    def _dump(self, rec: RollbackRecord) -> str:
        return json.dumps(self._scrub(rec.stored()), sort_keys=True)

    def _load(self, r: Any) -> RollbackRow:
        return RollbackRow(num=r["id"], product=r["product"], status=r["status"],
                           procedure=r["procedure"], kind=r["kind"], requester=r["requester"],
                           declared=r["declared"], channel=r["channel"], ts=r["ts"],
                           record=RollbackRecord.model_validate_json(r["data"]))
