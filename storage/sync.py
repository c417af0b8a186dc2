"""SQL for sync plans and sync log records.

A plan is a gated action of kind ``sync`` (:mod:`storage.actions`): its status lives only in
``actions`` (row ``sync:<plan id>``), and every plan read joins it in the same statement.
``sync_plans.status`` is the legacy column: since migration 5 it holds the status the plan
was created with and is never read or updated (old replicas of a rolling deploy still find it).
``note`` and ``outcomes`` are the sync's own data, written with the move they explain.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from storage.actions import MIGRATIONS as ACTION_MIGRATIONS
from storage.db import Database

MIGRATIONS = [
    """
    CREATE TABLE sync_plans (
        id TEXT PRIMARY KEY, sync TEXT NOT NULL, digest TEXT NOT NULL, plan TEXT NOT NULL,
        requester TEXT NOT NULL, channel TEXT NOT NULL DEFAULT '', ts TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL, created TEXT NOT NULL, note TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE sync_log (
        id TEXT PRIMARY KEY, sync TEXT NOT NULL, plan_id TEXT NOT NULL, result TEXT NOT NULL,
        started TEXT NOT NULL, record TEXT NOT NULL
    );
    """,
    # lookups by key use an index (issue 14)
    """
    CREATE INDEX sync_plans_status ON sync_plans(status, created);
    CREATE INDEX sync_log_sync ON sync_log(sync, started);
    CREATE INDEX sync_log_plan ON sync_log(plan_id);
    CREATE INDEX sync_log_started ON sync_log(started);
    """,
    # per-target outcomes of the last execution (retry runs only the failed ones)
    """
    ALTER TABLE sync_plans ADD COLUMN outcomes TEXT NOT NULL DEFAULT '[]';
    """,
    # the channel message's change list, rendered once at planning (a vote re-renders only
    # the status lines under it)
    """
    ALTER TABLE sync_plans ADD COLUMN summary TEXT NOT NULL DEFAULT '';
    """,
    # the status moves to the actions table: one action per existing plan (finished ones
    # inactive: bot.actions.machine.SYNC's finished statuses); the column is no longer read
    """
    INSERT INTO actions(id, kind, subject, digest, status, active, exclusive, parent, created,
                        updated)
    SELECT 'sync:' || p.id, 'sync', p.id, p.digest, p.status,
           CASE WHEN p.status IN ('done', 'stale', 'expired', 'cancelled', 'no-changes',
                                  'dry-run') THEN 0 ELSE 1 END,
           NULL, NULL, p.created, p.created
    FROM sync_plans p
    WHERE NOT EXISTS (SELECT 1 FROM actions a WHERE a.kind = 'sync' AND a.subject = p.id);
    """,
]


@dataclass(frozen=True)
class PlanRow:
    """A stored plan; its JSON is read and parsed only when :attr:`plan` is used (a vote
    needs the row's status and rendered summary, never the whole plan)."""

    id: str
    sync: str
    digest: str
    load_plan: Callable[[], str] = field(repr=False, compare=False)
    requester: str
    channel: str
    ts: str
    status: str
    """The plan's action's status (``actions``, joined)."""
    created: str
    note: str
    outcomes: list[dict[str, Any]]
    summary: str

    @cached_property
    def plan(self) -> dict[str, Any]:
        """The full plan (DR-05)."""
        return json.loads(self.load_plan())


class SyncStore:
    """Plans (full JSON, DR-05) and log records."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate("actions", ACTION_MIGRATIONS)  # the plans' statuses live there (joined)
        db.migrate("sync", MIGRATIONS)

    def insert_plan(self, pid: str, sync: str, digest: str, plan: dict, requester: str,
                    created: str, status: str = "planned", summary: str = "") -> str:
        """Insert a plan with its rendered change list ``summary``; returns the id stored. An
        id already taken (two dry-runs of one sync at the same instant, e.g. under a fixed
        clock) gets a ``-2``, ``-3``... suffix. The caller creates the plan's ``sync`` action
        in the same transaction (a plan without one is not found); ``status`` goes only to
        the legacy column."""
        with self.db.tx() as c:
            base, n = pid, 1
            while c.execute("SELECT 1 FROM sync_plans WHERE id = ?", (pid,)).fetchone():
                n += 1
                pid = f"{base}-{n}"
            c.execute("INSERT INTO sync_plans(id, sync, digest, plan, requester, status, created,"
                      " summary) VALUES (?,?,?,?,?,?,?,?)",
                      (pid, sync, digest, json.dumps({**plan, "id": pid}, sort_keys=True),
                       requester, status, created, summary))
        return pid

    def set_summary(self, pid: str, summary: str) -> None:
        """Replace the rendered change list (the id changed on insert)."""
        with self.db.tx() as c:
            c.execute("UPDATE sync_plans SET summary=? WHERE id=?", (summary, pid))

    def set_message(self, pid: str, channel: str, ts: str) -> None:
        with self.db.tx() as c:
            c.execute("UPDATE sync_plans SET channel=?, ts=? WHERE id=?", (channel, ts, pid))

    def set_result(self, pid: str, note: str, outcomes: list[dict] | None = None) -> None:
        """Record what the plan's last move says (``note``) and, when given, the per-target
        ``outcomes`` of its last execution; call it in the move's transaction."""
        sets, args = "note=?", [note]
        if outcomes is not None:
            sets += ", outcomes=?"
            args.append(json.dumps(outcomes, sort_keys=True))
        with self.db.tx() as c:
            c.execute(f"UPDATE sync_plans SET {sets} WHERE id=?", (*args, pid))

    def with_status(self, status: str) -> list[PlanRow]:
        """Plans whose action is in ``status``, oldest first."""
        rows = self.db.conn().execute(
            f"SELECT {_COLUMNS} FROM actions a JOIN sync_plans p ON p.id = a.subject"
            " WHERE a.kind = 'sync' AND a.status = ? ORDER BY p.created, p.id",
            (status,)).fetchall()
        return [self._row(r) for r in rows]

    def get(self, pid: str) -> PlanRow | None:
        """The plan ``pid`` (its JSON is read on first use of ``.plan``)."""
        row = self.db.conn().execute(
            f"SELECT {_COLUMNS} FROM sync_plans p JOIN actions a ON a.kind = 'sync' AND"
            " a.subject = p.id WHERE p.id = ?", (pid,)).fetchone()
        return self._row(row) if row is not None else None

    def plan_json(self, pid: str) -> str:
        """The stored plan's JSON."""
        row = self.db.conn().execute("SELECT plan FROM sync_plans WHERE id=?", (pid,)).fetchone()
        return row["plan"] if row is not None else "{}"

    def _row(self, row: Any) -> PlanRow:
        d = dict(row)
        d["outcomes"] = json.loads(d.get("outcomes") or "[]")
        pid = d["id"]
        return PlanRow(load_plan=lambda: self.plan_json(pid), **d)

    def add_log(self, lid: str, sync: str, plan_id: str, result: str, started: str,
                record: dict) -> None:
        with self.db.tx() as c:
            c.execute("INSERT INTO sync_log(id, sync, plan_id, result, started, record)"
                      " VALUES (?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET sync=excluded.sync,"
                      " plan_id=excluded.plan_id, result=excluded.result,"
                      " started=excluded.started, record=excluded.record",
                      (lid, sync, plan_id, result, started, json.dumps(record, sort_keys=True)))

    def logs(self, sync: str | None = None, limit: int = 10) -> list[dict]:
        """Newest first; ``sync`` None = all syncs; matches a log or plan id too."""
        if sync is None:
            rows = self.db.conn().execute(
                "SELECT record FROM sync_log ORDER BY started DESC LIMIT ?", (limit,))
        else:
            rows = self.db.conn().execute(
                "SELECT record FROM sync_log WHERE sync=? OR id=? OR plan_id=?"
                " ORDER BY started DESC LIMIT ?", (sync, sync, sync, limit))
        return [json.loads(r["record"]) for r in rows]


_COLUMNS = ("p.id AS id, p.sync AS sync, p.digest AS digest, p.requester AS requester, "
            "p.channel AS channel, p.ts AS ts, a.status AS status, p.created AS created, "
            "p.note AS note, p.outcomes AS outcomes, p.summary AS summary")
