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
        "user"      TEXT NOT NULL,
        reaction    TEXT NOT NULL,
        at          TEXT NOT NULL,
        PRIMARY KEY (request_id, "user", reaction)
    );
    """,
    # lookups by key use an index (issue 14)
    """
    CREATE INDEX approval_requests_subject ON approval_requests(kind, subject);
    CREATE INDEX approval_requests_status ON approval_requests(status);
    """,
    # Each (request, user, reaction) keeps its latest state so an older event delivered late
    # (a Slack retry) cannot undo a newer one: counted | removed | refused.
    """
    ALTER TABLE approval_votes ADD COLUMN state TEXT NOT NULL DEFAULT 'counted';
    ALTER TABLE approval_votes ADD COLUMN event_order TEXT NOT NULL DEFAULT '';
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
    state: str = "counted"
    event_order: str = ""


def _req(r: sqlite3.Row | dict[str, Any]) -> RequestRow:
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

    def with_reactions(self, channel: str, ts: str) -> tuple[RequestRow, list[VoteRow]] | None:
        """The request on message (channel, ts) and every (user, reaction) seen on it, in
        one statement (a vote's read: :meth:`by_message` + :meth:`reactions`)."""
        rows = self.db.conn().execute(
            'SELECT r.*, v."user" AS v_user, v.reaction AS v_reaction, v.at AS v_at,'
            " v.state AS v_state, v.event_order AS v_order FROM approval_requests r"
            " LEFT JOIN approval_votes v ON v.request_id = r.id"
            ' WHERE r.channel = ? AND r.ts = ? ORDER BY v.at, v."user"', (channel, ts)
        ).fetchall()
        if not rows:
            return None
        names = [k for k in rows[0].keys() if not k.startswith("v_")]
        req = _req({k: rows[0][k] for k in names})
        votes = [VoteRow(r["v_user"], r["v_reaction"], r["v_at"], r["v_state"], r["v_order"])
                 for r in rows if r["v_user"] is not None]
        return req, votes

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

    def reactions(self, request_id: str) -> list[VoteRow]:
        """Every (user, reaction) seen on the request, whatever its state."""
        rows = self.db.conn().execute(
            'SELECT "user", reaction, at, state, event_order FROM approval_votes'
            ' WHERE request_id = ? ORDER BY at, "user"', (request_id,)).fetchall()
        return [VoteRow(**dict(r)) for r in rows]

    def reaction(self, request_id: str, user: str, reaction: str) -> VoteRow | None:
        r = self.db.conn().execute(
            'SELECT "user", reaction, at, state, event_order FROM approval_votes'
            ' WHERE request_id = ? AND "user" = ? AND reaction = ?',
            (request_id, user, reaction)).fetchone()
        return VoteRow(**dict(r)) if r else None

    def put_reaction(self, request_id: str, row: VoteRow, *, prev: VoteRow | None) -> bool:
        """Record ``row`` as the latest state of its (user, reaction) if nothing changed it
        since ``prev`` was read (compare-and-set); True if it was written."""
        c = self.db.conn()
        if prev is None:
            cur = c.execute(
                'INSERT OR IGNORE INTO approval_votes(request_id, "user", reaction, at, state,'
                " event_order) VALUES (?,?,?,?,?,?)",
                (request_id, row.user, row.reaction, row.at, row.state, row.event_order))
        else:
            cur = c.execute(
                "UPDATE approval_votes SET at = ?, state = ?, event_order = ? WHERE"
                ' request_id = ? AND "user" = ? AND reaction = ? AND state = ? AND'
                " event_order = ?", (row.at, row.state, row.event_order, request_id, row.user,
                                     row.reaction, prev.state, prev.event_order))
        return cur.rowcount == 1

    def votes(self, request_id: str) -> list[VoteRow]:
        """The votes that count now (state ``counted``), oldest first."""
        rows = self.db.conn().execute(
            'SELECT "user", reaction, at, state, event_order FROM approval_votes'
            ' WHERE request_id = ? AND state = \'counted\' ORDER BY at, "user"',
            (request_id,)).fetchall()
        return [VoteRow(**dict(r)) for r in rows]
