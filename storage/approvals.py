"""Approval requests (one per posted plan message) and the votes counted on them."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from storage.db import Database

MIGRATIONS = [
    """
    CREATE TABLE approval_requests (
        id          TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        subject     TEXT NOT NULL,
        evidence_id TEXT NOT NULL,
        digest      TEXT NOT NULL,
        channel     TEXT NOT NULL,
        ts          TEXT NOT NULL,
        requester   TEXT NOT NULL,
        policy      TEXT NOT NULL,
        created     TEXT NOT NULL,
        expires     TEXT NOT NULL,
        status      TEXT NOT NULL DEFAULT 'open',
        UNIQUE (channel, ts)
    );
    CREATE TABLE approval_votes (
        request_id  TEXT NOT NULL REFERENCES approval_requests(id),
        user        TEXT NOT NULL,
        reaction    TEXT NOT NULL,
        at          TEXT NOT NULL,
        PRIMARY KEY (request_id, user, reaction)
    );
    """,
    # lookups by key use an index (issue 14)
    """
    CREATE INDEX approval_requests_subject ON approval_requests(kind, subject);
    CREATE INDEX approval_requests_status ON approval_requests(status);
    """,
]


@dataclass(frozen=True)
class RequestRow:
    id: str
    kind: str
    subject: str
    evidence_id: str
    digest: str
    channel: str
    ts: str
    requester: str
    policy: dict[str, Any]
    created: str
    expires: str
    status: str


@dataclass(frozen=True)
class VoteRow:
    user: str
    reaction: str
    at: str


def _req(r: sqlite3.Row) -> RequestRow:
    d = dict(r)
    d["policy"] = json.loads(d["policy"])
    return RequestRow(**d)


class ApprovalStore:
    """SQL for approval requests and votes."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate("approvals", MIGRATIONS)

    def insert(self, row: RequestRow) -> None:
        self.db.conn().execute(
            "INSERT INTO approval_requests(id, kind, subject, evidence_id, digest, channel, ts,"
            " requester, policy, created, expires, status) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (row.id, row.kind, row.subject, row.evidence_id, row.digest, row.channel, row.ts,
             row.requester, json.dumps(row.policy, sort_keys=True), row.created, row.expires,
             row.status),
        )

    def get(self, request_id: str) -> RequestRow | None:
        r = self.db.conn().execute(
            "SELECT * FROM approval_requests WHERE id = ?", (request_id,)).fetchone()
        return _req(r) if r else None

    def by_message(self, channel: str, ts: str) -> RequestRow | None:
        r = self.db.conn().execute(
            "SELECT * FROM approval_requests WHERE channel = ? AND ts = ?", (channel, ts)
        ).fetchone()
        return _req(r) if r else None

    def by_subject(self, kind: str, subject: str) -> list[RequestRow]:
        rows = self.db.conn().execute(
            "SELECT * FROM approval_requests WHERE kind = ? AND subject = ? ORDER BY created",
            (kind, subject)).fetchall()
        return [_req(r) for r in rows]

    def open_requests(self) -> list[RequestRow]:
        rows = self.db.conn().execute(
            "SELECT * FROM approval_requests WHERE status = 'open' ORDER BY created").fetchall()
        return [_req(r) for r in rows]

    def reopen(self, request_id: str, from_status: str, expires: str) -> bool:
        """Back to ``open`` (from ``from_status``) with a new expiry; True if it moved."""
        cur = self.db.conn().execute(
            "UPDATE approval_requests SET status = 'open', expires = ? WHERE id = ? AND "
            "status = ?", (expires, request_id, from_status))
        return cur.rowcount == 1

    def transition(self, request_id: str, from_status: str, to_status: str) -> bool:
        cur = self.db.conn().execute(
            "UPDATE approval_requests SET status = ? WHERE id = ? AND status = ?",
            (to_status, request_id, from_status))
        return cur.rowcount == 1

    def add_vote(self, request_id: str, user: str, reaction: str, at: str) -> bool:
        cur = self.db.conn().execute(
            "INSERT OR IGNORE INTO approval_votes(request_id, user, reaction, at)"
            " VALUES (?,?,?,?)", (request_id, user, reaction, at))
        return cur.rowcount == 1

    def remove_vote(self, request_id: str, user: str, reaction: str) -> bool:
        cur = self.db.conn().execute(
            "DELETE FROM approval_votes WHERE request_id = ? AND user = ? AND reaction = ?",
            (request_id, user, reaction))
        return cur.rowcount == 1

    def votes(self, request_id: str) -> list[VoteRow]:
        rows = self.db.conn().execute(
            "SELECT user, reaction, at FROM approval_votes WHERE request_id = ? ORDER BY at, user",
            (request_id,)).fetchall()
        return [VoteRow(**dict(r)) for r in rows]
