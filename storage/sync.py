"""SQL for sync plans and sync log records."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

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
        db.migrate("sync", MIGRATIONS)

    def insert_plan(self, pid: str, sync: str, digest: str, plan: dict, requester: str,
                    created: str, status: str = "planned", summary: str = "") -> str:
        """Insert a plan with its rendered change list ``summary``; returns the id stored. An
        id already taken (two dry-runs of one sync at the same instant, e.g. under a fixed
        clock) gets a ``-2``, ``-3``... suffix."""
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

    def set_status(self, pid: str, status: str, note: str = "",
                   only_from: tuple[str, ...] = (), outcomes: list[dict] | None = None) -> bool:
        """Set the status (and the per-target ``outcomes`` when given); with ``only_from``
        only when the current one is in it (atomic)."""
        sets, args = "status=?, note=?", [status, note]
        if outcomes is not None:
            sets += ", outcomes=?"
            args.append(json.dumps(outcomes, sort_keys=True))
        with self.db.tx() as c:
            if only_from:
                marks = ",".join("?" * len(only_from))
                cur = c.execute(f"UPDATE sync_plans SET {sets} WHERE id=? AND status IN"
                                f" ({marks})", (*args, pid, *only_from))
            else:
                cur = c.execute(f"UPDATE sync_plans SET {sets} WHERE id=?", (*args, pid))
            return cur.rowcount > 0

    def with_status(self, status: str) -> list[PlanRow]:
        """Plans in ``status``, oldest first."""
        rows = self.db.conn().execute(
            f"SELECT {_COLUMNS} FROM sync_plans WHERE status=? ORDER BY created",
            (status,)).fetchall()
        return [self._row(r) for r in rows]

    def get(self, pid: str) -> PlanRow | None:
        """The plan ``pid`` (its JSON is read on first use of ``.plan``)."""
        row = self.db.conn().execute(f"SELECT {_COLUMNS} FROM sync_plans WHERE id=?",
                                     (pid,)).fetchone()
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


_COLUMNS = ("id, sync, digest, requester, channel, ts, status, created, note, outcomes, "
            "summary")
