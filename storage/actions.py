"""Gated actions: one row per sync plan, rollback or release, one status, one compare-and-set.

Every gated action's status lives here and nowhere else; the feature tables hold what the
action *is* (the plan, the rollback's request, the release's checks) and join this table for
its status. :meth:`ActionStore.move` is the only statement that changes a status: a
compare-and-set from the caller's expected statuses, so of several racing callers exactly one
moves the action. ``exclusive`` names a slot at most one *active* action may hold (one active
rollback per product, one active release per product): a partial unique index refuses a
second, so of two racing creations exactly one succeeds.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from storage.db import Database
from storage.dialect import integrity_errors

MIGRATIONS = [
    """
    CREATE TABLE actions (
        id        TEXT PRIMARY KEY,
        kind      TEXT NOT NULL,
        subject   TEXT NOT NULL,
        digest    TEXT NOT NULL DEFAULT '',
        status    TEXT NOT NULL,
        active    INTEGER NOT NULL DEFAULT 1,
        exclusive TEXT,
        parent    TEXT,
        created   TEXT NOT NULL,
        updated   TEXT NOT NULL,
        UNIQUE(kind, subject)
    );
    CREATE UNIQUE INDEX actions_one_active ON actions(exclusive)
        WHERE active = 1 AND exclusive IS NOT NULL;
    CREATE INDEX actions_kind_status ON actions(kind, status);
    CREATE INDEX actions_parent ON actions(parent);
    """,
]


class SlotTaken(Exception):  # noqa: N818
    """Another active action holds the ``exclusive`` slot."""

    def __init__(self, exclusive: str) -> None:
        super().__init__(f"another active action holds {exclusive}")
        self.exclusive = exclusive


@dataclass(frozen=True)
class ActionRow:
    """One stored action (see :class:`bot.actions.record.Action` for the typed view)."""

    id: str
    kind: str
    subject: str
    digest: str
    status: str
    active: bool
    exclusive: str | None
    parent: str | None
    created: str
    updated: str


def action_id(kind: str, subject: str) -> str:
    """The action id of ``kind``'s record ``subject`` (``sync:docs-...``, ``rollback:RB-0001``)."""
    return f"{kind}:{subject}"


class ActionStore:
    """The ``actions`` table: create, read, and the one compare-and-set."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate("actions", MIGRATIONS)

    def create(self, kind: str, subject: str, status: str, *, active: bool, at: str,
               digest: str = "", exclusive: str | None = None,
               parent: str | None = None) -> ActionRow:
        """Insert the action (joins the caller's open transaction); :class:`SlotTaken` when
        another active action holds ``exclusive`` -- let it propagate out of the caller's
        transaction (PostgreSQL aborts a transaction at its first failed statement)."""
        aid = action_id(kind, subject)
        try:
            with self.db.tx() as c:
                c.execute("INSERT INTO actions(id, kind, subject, digest, status, active,"
                          " exclusive, parent, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?)",
                          (aid, kind, subject, digest, status, int(active), exclusive, parent,
                           at, at))
        except integrity_errors():
            raise SlotTaken(exclusive or aid) from None
        return ActionRow(aid, kind, subject, digest, status, active, exclusive, parent, at, at)

    def get(self, kind: str, subject: str) -> ActionRow | None:
        """The action of ``kind``'s record ``subject``."""
        r = self.db.conn().execute("SELECT * FROM actions WHERE id = ?",
                                   (action_id(kind, subject),)).fetchone()
        return _row(r) if r is not None else None

    def move(self, kind: str, subject: str, to: str, from_: Collection[str], *, active: bool,
             at: str, digest: str | None = None) -> bool:
        """Compare-and-set: ``to`` only when the status is one of ``from_``; True if it moved.
        Joins the caller's open transaction (the feature's own writes commit with it)."""
        marks = ",".join("?" * len(from_))
        sets, args = "status = ?, active = ?, updated = ?", [to, int(active), at]
        if digest is not None:
            sets += ", digest = ?"
            args.append(digest)
        with self.db.tx() as c:
            cur = c.execute(f"UPDATE actions SET {sets} WHERE id = ? AND status IN ({marks})",
                            (*args, action_id(kind, subject), *from_))
            return cur.rowcount == 1

    def with_status(self, kind: str, statuses: Collection[str]) -> list[ActionRow]:
        """``kind``'s actions in one of ``statuses``, oldest first."""
        marks = ",".join("?" * len(statuses))
        rows = self.db.conn().execute(
            f"SELECT * FROM actions WHERE kind = ? AND status IN ({marks}) ORDER BY created, id",
            (kind, *statuses)).fetchall()
        return [_row(r) for r in rows]

    def children(self, parent: str) -> list[ActionRow]:
        """Actions whose parent is ``parent`` (a config rollback's syncs), oldest first."""
        rows = self.db.conn().execute(
            "SELECT * FROM actions WHERE parent = ? ORDER BY created, id", (parent,)).fetchall()
        return [_row(r) for r in rows]

    def set_parent(self, kind: str, subject: str, parent: str | None) -> None:
        """Attach the action to ``parent`` (a sync planned by a config rollback)."""
        with self.db.tx() as c:
            c.execute("UPDATE actions SET parent = ? WHERE id = ?",
                      (parent, action_id(kind, subject)))


def _row(r: Any) -> ActionRow:
    return ActionRow(id=r["id"], kind=r["kind"], subject=r["subject"], digest=r["digest"],
                     status=r["status"], active=bool(r["active"]), exclusive=r["exclusive"],
                     parent=r["parent"], created=r["created"], updated=r["updated"])
