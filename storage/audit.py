"""The append-only, tamper-evident audit log.

Every entry carries the SHA-256 of the previous entry; its own hash covers its fields
and that previous hash, so editing or deleting any row breaks the chain from there on.
Triggers refuse UPDATE and DELETE outright.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.clock import Clock, SystemClock, iso
from bot.redact import scrub
from storage.db import Database

GENESIS = "0" * 64

MIGRATIONS = [
    """
    CREATE TABLE audit_log (
        seq       INTEGER PRIMARY KEY,
        ts        TEXT NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        subject   TEXT NOT NULL,
        payload   TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL
    );
    CREATE INDEX audit_log_subject ON audit_log(subject);
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END;
    """,
    # lookups by key use an index (issue 14)
    """
    CREATE INDEX audit_log_action ON audit_log(action COLLATE NOCASE);
    """,
]


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    ts: str
    actor: str
    action: str
    subject: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "ts": self.ts, "actor": self.actor, "action": self.action,
            "subject": self.subject, "payload": self.payload,
            "prev_hash": self.prev_hash, "hash": self.hash,
        }


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int
    bad_seq: int | None = None
    reason: str = ""


def canonical(obj: Any) -> str:
    """Deterministic JSON used for hashing."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def entry_hash(seq: int, ts: str, actor: str, action: str, subject: str, payload: str,
               prev_hash: str) -> str:
    body = canonical([seq, ts, actor, action, subject, payload, prev_hash])
    return hashlib.sha256(body.encode()).hexdigest()


class AuditLog:
    """Append and read the chained audit log stored in ``db``."""

    def __init__(self, db: Database, clock: Clock | None = None,
                 secrets: Callable[[], Iterable[str]] | None = None) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        self._secrets = secrets or tuple  # configured secrets, read at each append (reloads)
        db.migrate("audit", MIGRATIONS)

    def append(self, actor: str, action: str, subject: str = "",
               payload: dict[str, Any] | None = None) -> AuditEntry:
        """Append one entry (secrets scrubbed from the payload) and return it."""
        data = canonical(scrub(payload or {}, self._secrets()))
        ts = iso(self.clock.now())
        with self.db.tx() as c:
            row = c.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (row["seq"] + 1, row["hash"]) if row else (1, GENESIS)
            h = entry_hash(seq, ts, actor, action, subject, data, prev)
            c.execute(
                "INSERT INTO audit_log(seq, ts, actor, action, subject, payload, prev_hash, hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, ts, actor, action, subject, data, prev, h),
            )
        return AuditEntry(seq, ts, actor, action, subject, json.loads(data), prev, h)

    def entries(self, since: datetime | str | None = None, subject: str | None = None,
                action_prefix: str | None = None) -> Iterator[AuditEntry]:
        """Entries in order, optionally filtered by time, exact subject or action prefix."""
        sql, args = "SELECT * FROM audit_log WHERE 1=1", []
        if since is not None:
            sql += " AND ts >= ?"
            args.append(iso(since) if isinstance(since, datetime) else since)
        if subject is not None:
            sql += " AND subject = ?"
            args.append(subject)
        if action_prefix is not None:
            sql += " AND action LIKE ? ESCAPE '\\'"
            args.append(action_prefix.replace("%", "\\%").replace("_", "\\_") + "%")
        for r in self.db.conn().execute(sql + " ORDER BY seq", args):
            yield _row(r)

    def get(self, seq: int) -> AuditEntry | None:
        r = self.db.conn().execute("SELECT * FROM audit_log WHERE seq = ?", (seq,)).fetchone()
        return _row(r) if r else None

    def range_of(self, subject: str) -> dict[str, Any]:
        """The entries about ``subject`` as an evidence record cites them: first and last
        sequence number with their hashes, and every sequence number."""
        entries = list(self.entries(subject=subject))
        first, last = (entries[0], entries[-1]) if entries else (None, None)
        return {"subject": subject,
                "first_seq": first.seq if first else None,
                "first_hash": first.hash if first else None,
                "last_seq": last.seq if last else None,
                "last_hash": last.hash if last else None,
                "entries": [e.seq for e in entries]}

    def check_range(self, rng: dict[str, Any]) -> list[str]:
        """Problems with a cited range (:meth:`range_of`): broken chain, hashes that differ."""
        problems = []
        res = self.verify()
        if not res.ok:
            problems.append(f"audit chain broken at seq {res.bad_seq}: {res.reason}")
        for key in ("first", "last"):
            seq = rng.get(f"{key}_seq")
            e = self.get(seq) if seq else None
            if e is None or e.hash != rng.get(f"{key}_hash") or (
                    rng.get("subject") and e.subject != rng["subject"]):
                problems.append(f"audit.{key}_seq {seq}: hash does not match the audit log")
        return problems

    def count(self) -> int:
        return self.db.conn().execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]

    def verify(self) -> VerifyResult:
        """Recompute the chain; report the first entry whose hash or link is wrong."""
        prev, n, expected_seq = GENESIS, 0, 1
        for r in self.db.conn().execute("SELECT * FROM audit_log ORDER BY seq"):
            n += 1
            if r["seq"] != expected_seq:
                return VerifyResult(False, n, expected_seq, f"entry {expected_seq} is missing")
            if r["prev_hash"] != prev:
                return VerifyResult(False, n, r["seq"], "prev_hash does not match previous entry")
            h = entry_hash(r["seq"], r["ts"], r["actor"], r["action"], r["subject"],
                           r["payload"], r["prev_hash"])
            if h != r["hash"]:
                return VerifyResult(False, n, r["seq"], "hash does not match contents")
            prev, expected_seq = r["hash"], expected_seq + 1
        return VerifyResult(True, n)


def _row(r: Any) -> AuditEntry:
    return AuditEntry(r["seq"], r["ts"], r["actor"], r["action"], r["subject"],
                      json.loads(r["payload"]), r["prev_hash"], r["hash"])
