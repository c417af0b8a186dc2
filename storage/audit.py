"""The append-only, tamper-evident audit log.

Every entry carries the hash of the previous entry; its own hash covers exactly the text
stored in its columns and that previous hash, so editing or deleting any row breaks the
chain from there on. Triggers refuse UPDATE and DELETE outright. With an audit key the
hash is an HMAC (``alg = hmac-sha256``): recomputing the chain without the key is
detected. Signed checkpoints outside the database (:mod:`storage.checkpoints`) catch
truncation and deletion of everything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock, SystemClock, iso
from bot.redact import scrub
from storage.checkpoints import Checkpoint, CheckpointFile, make, valid
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
    # which hash an entry carries: plain SHA-256 (no key) or HMAC-SHA256 under the audit key
    "ALTER TABLE audit_log ADD COLUMN alg TEXT NOT NULL DEFAULT 'sha256'",
]
SHA256, HMAC_SHA256 = "sha256", "hmac-sha256"
_MAX_DEPTH = 64  # deeper payload values are stored as a marker (requests are bounded anyway)

log = logging.getLogger(__name__)


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
    checkpoint: Checkpoint | None = None
    unkeyed: int = 0  # entries hashed without the key (written before a key was set)
    needs_key: bool = False  # keyed entries and no key given: cannot tell intact from broken


@dataclass(frozen=True)
class CheckpointPolicy:
    """Write a checkpoint every ``every`` entries or ``interval``, whichever comes first."""

    sink: CheckpointFile
    every: int = 100
    interval: timedelta = timedelta(minutes=10)


def plain(obj: Any, depth: int = 0) -> Any:
    """``obj`` as plain JSON data: string keys, lists, finite numbers; anything else as text.

    This is what is stored, so it is also what is hashed: ``{"id": 777}`` stays the number
    777 in the stored text and in the hash alike.
    """
    if depth > _MAX_DEPTH:
        return "<nested too deep>"
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, dict):
        return {str(k): plain(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        items = [plain(v, depth + 1) for v in obj]
        return sorted(items, key=canonical) if isinstance(obj, set | frozenset) else items
    return str(obj)


def canonical(obj: Any) -> str:
    """Deterministic JSON text; ASCII-escaped when it would not encode as UTF-8 (lone
    surrogates), so the stored text is always exactly the text that was hashed."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                          default=str, allow_nan=False)
    return text


def column(value: Any) -> str:
    """A text column's value as stored: ``None`` -> "", numbers -> their text, and
    characters UTF-8 cannot carry (lone surrogates) as backslash escapes."""
    s = "" if value is None else value if isinstance(value, str) else str(value)
    return s.encode("utf-8", "backslashreplace").decode("utf-8")


def entry_hash(seq: int, ts: str, actor: str, action: str, subject: str, payload: str,
               prev_hash: str, key: bytes | None = None) -> str:
    """SHA-256 of the entry's stored fields, or their HMAC-SHA256 under ``key``."""
    body = canonical([seq, ts, actor, action, subject, payload, prev_hash]).encode()
    if key:
        return hmac.new(key, body, hashlib.sha256).hexdigest()
    return hashlib.sha256(body).hexdigest()


class AuditLog:
    """Append and read the chained audit log stored in ``db``."""

    def __init__(self, db: Database, clock: Clock | None = None,
                 secrets: Callable[[], Any] | None = None, *, key: bytes | None = None,
                 checkpoints: CheckpointPolicy | None = None, migrate: bool = True) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        self._secrets = secrets or tuple  # configured secrets, read at each append (reloads)
        self.key = key or None
        self.checkpoints = checkpoints
        self.on_checkpoint: list[Callable[[Checkpoint], None]] = []  # e.g. a Slack message
        self._last_cp: Checkpoint | None = checkpoints.sink.latest() if checkpoints else None
        self._head: tuple[int, str] | None = None
        """(seq, hash) of the entry this log appended last: a guess at the chain's head,
        checked by the very statement that appends after it (:meth:`_insert_at_head`)."""
        self.observers: list[Callable[[AuditEntry], None]] = []
        """Called with each entry after it is committed (metrics); never fails an append."""
        self._queue: list[tuple[str, str, str, str, str]] = []  # append_later, until flush
        self._queue_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._flush_due = False
        if migrate:
            db.migrate("audit", MIGRATIONS)

    def append(self, actor: Any, action: Any, subject: Any = "",
               payload: dict[str, Any] | None = None) -> AuditEntry:
        """Append one entry (secrets scrubbed from the payload) and return it.

        Columns and payload are coerced to exactly the text that is stored before hashing,
        so any value a request can carry appends an entry that verifies."""
        return self._append_all([self._fields(actor, action, subject, payload)])[0]

    def append_later(self, actor: Any, action: Any, subject: Any = "",
                     payload: dict[str, Any] | None = None) -> bool:
        """Queue an entry that nothing waits for (a usage answer, a refusal); :meth:`flush`
        appends the queue in one transaction. True when no flush is due yet: the caller
        schedules one (it appends everything queued until the queue is empty)."""
        fields = self._fields(actor, action, subject, payload)
        with self._queue_lock:
            self._queue.append(fields)
            if self._flush_due:
                return False
            self._flush_due = True
            return True

    def flush(self) -> list[AuditEntry]:
        """Append what :meth:`append_later` queued, a transaction per batch, until the queue
        is empty. If a batch fails (a locked or read-only database) it stays queued and the
        next :meth:`append_later` asks for another flush."""
        out: list[AuditEntry] = []
        with self._flush_lock:  # one flush at a time: a batch is appended once
            try:
                while True:
                    with self._queue_lock:
                        batch = list(self._queue)
                        if not batch:
                            self._flush_due = False
                            return out
                    out += self._append_all(batch)
                    with self._queue_lock:
                        del self._queue[:len(batch)]
            except BaseException:
                with self._queue_lock:
                    self._flush_due = False
                raise

    def _fields(self, actor: Any, action: Any, subject: Any, payload: dict[str, Any] | None
                ) -> tuple[str, str, str, str, str]:
        """(ts, actor, action, subject, payload) exactly as stored and hashed."""
        data = canonical(plain(scrub(payload or {}, self._secrets())))
        return iso(self.clock.now()), column(actor), column(action), column(subject), data

    def _append_all(self, batch: list[tuple[str, str, str, str, str]]) -> list[AuditEntry]:
        alg = HMAC_SHA256 if self.key else SHA256
        with self.db.tx() as c:
            heads = [self._insert_at_head(c, fields, alg) for fields in batch]
        entries = [AuditEntry(seq, ts, actor, action, subject, json.loads(data), prev, h)
                   for (ts, actor, action, subject, data), (seq, prev, h)
                   in zip(batch, heads, strict=True)]
        # inside a caller's transaction the entries are committed (or undone) with it
        for entry in entries:
            self.db.after_commit(lambda e=entry: self._committed(e))
        return entries

    def _committed(self, entry: AuditEntry) -> None:
        """Once ``entry`` is committed: the observers, then a checkpoint if one is due."""
        for observe in self.observers:
            try:
                observe(entry)
            except Exception:  # an observer (metrics) must never undo an audited action
                log.exception("audit observer failed")
        self._maybe_checkpoint(entry)

    def _insert_at_head(self, c: Any, fields: tuple[str, str, str, str, str], alg: str
                        ) -> tuple[int, str, str]:
        """Insert the entry after the chain's head (inside the caller's write transaction);
        returns its (seq, prev_hash, hash).

        The head this log wrote last is tried first, in one statement that inserts only if
        that entry is still the head: no read of the head when nothing else appended since
        (several appends in one transaction, or one process). When it is not (another
        process appended, or the transaction that wrote it was rolled back), the head is
        read and the entry inserted after it. Writers hold the write lock for the whole
        transaction, so the head cannot move between that check and the insert."""
        guess = self._head
        if guess is not None:
            seq, prev = guess[0] + 1, guess[1]
            h = entry_hash(seq, *fields, prev, self.key)
            cur = c.execute(
                "INSERT INTO audit_log(seq, ts, actor, action, subject, payload, prev_hash, hash,"
                " alg) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM audit_log"
                " WHERE seq = ? AND hash = ?) AND NOT EXISTS (SELECT 1 FROM audit_log WHERE"
                " seq > ?)", (seq, *fields, prev, h, alg, guess[0], prev, guess[0]))
            if cur.rowcount == 1:
                self._head = (seq, h)
                return seq, prev, h
        row = c.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (row["seq"] + 1, row["hash"]) if row else (1, GENESIS)
        h = entry_hash(seq, *fields, prev, self.key)
        c.execute(
            "INSERT INTO audit_log(seq, ts, actor, action, subject, payload, prev_hash, hash,"
            " alg) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, *fields, prev, h, alg),
        )
        self._head = (seq, h)
        return seq, prev, h

    def _maybe_checkpoint(self, entry: AuditEntry) -> None:
        """After the commit: a checkpoint when ``every`` entries or ``interval`` passed."""
        pol = self.checkpoints
        if pol is None:
            return
        last = self._last_cp
        due = last is None or entry.seq - last.seq >= pol.every or (
            self.clock.now() - datetime.fromisoformat(last.ts.replace("Z", "+00:00"))
            >= pol.interval)
        if due:
            self.checkpoint(entry.seq, entry.hash)

    def checkpoint(self, seq: int | None = None, head: str | None = None) -> Checkpoint | None:
        """Write a checkpoint of the head now (None when the log is empty or no sink)."""
        if self.checkpoints is None:
            return None
        if seq is None or head is None:
            row = self.db.conn().execute(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            if row is None:
                return None
            seq, head = row["seq"], row["hash"]
        cp = make(self.key, seq, head, iso(self.clock.now()))
        self.checkpoints.sink.write(cp)
        self._last_cp = cp
        for fn in self.on_checkpoint:
            fn(cp)
        return cp

    def behind_checkpoint(self) -> str | None:
        """Why appending would be wrong: the head is behind (or differs from) the newest
        checkpoint. None when it is fine or there is no checkpoint."""
        cp = self._last_cp
        if cp is None:
            return None
        row = self.db.conn().execute(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        head = row["seq"] if row else 0
        if head < cp.seq:
            return (f"audit log head is at seq {head} but the last checkpoint is at seq "
                    f"{cp.seq} ({self.checkpoints.sink.path}): entries were removed")
        at = self.get(cp.seq)
        if at is None or at.hash != cp.head:
            return (f"audit log entry {cp.seq} does not match the checkpoint at seq {cp.seq} "
                    f"(head seq {head}): the chain was rewritten")
        return None

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
        bad = self.verify_span(rng.get("first_seq") or 1, rng.get("last_seq") or 0)
        if bad:
            problems.append(f"audit chain broken at seq {bad[0]}: {bad[1]}")
        for key in ("first", "last"):
            seq = rng.get(f"{key}_seq")
            e = self.get(seq) if seq else None
            if e is None or e.hash != rng.get(f"{key}_hash") or (
                    rng.get("subject") and e.subject != rng["subject"]):
                problems.append(f"audit.{key}_seq {seq}: hash does not match the audit log")
        return problems

    def verify_span(self, first: int, last: int) -> tuple[int, str] | None:
        """Check the chain from entry ``first`` (linked to the one before it) through ``last``
        and on to the newest checkpoint when it lies beyond (whose head must match), or to the
        log's head without one: a cited range is checked without re-verifying from genesis.
        Returns (seq, reason) of the first problem, or None."""
        cp = self._last_cp
        if cp is not None and cp.seq >= last and not valid(self.key, cp):
            return cp.seq, "the checkpoint's signature does not verify"
        upto = cp.seq if cp is not None and cp.seq >= last else None
        before = self.db.conn().execute(
            "SELECT * FROM audit_log WHERE seq = ?", (first - 1,)).fetchone()
        if first > 1 and before is None:
            return first - 1, f"entry {first - 1} is missing"
        prev = before["hash"] if before is not None else GENESIS
        keyed_seen = before is not None and _alg(before) == HMAC_SHA256
        sql, args = "SELECT * FROM audit_log WHERE seq >= ?", [first]
        if upto is not None:
            sql, args = sql + " AND seq <= ?", [first, upto]
        expected = first
        for r in self.db.conn().execute(sql + " ORDER BY seq", args):
            alg = _alg(r)
            if alg == HMAC_SHA256 and not self.key:
                return r["seq"], "entry is keyed (HMAC-SHA256): give the audit key to verify it"
            bad = self._check_row(r, alg, expected, prev, keyed_seen)
            if bad:
                return bad
            keyed_seen = keyed_seen or alg == HMAC_SHA256
            prev, expected = r["hash"], expected + 1
        if expected <= last:
            return expected, f"entry {expected} is missing"
        if upto is not None and (expected <= upto or prev != cp.head):  # type: ignore[union-attr]
            return upto, "hash does not match the checkpoint: the chain was rewritten"
        return None

    def count(self) -> int:
        return self.db.conn().execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]

    def verify(self, checkpoint: Checkpoint | None = None) -> VerifyResult:
        """Recompute the chain; report the first entry whose hash or link is wrong.

        With a key, keyed entries are checked as HMACs and an unkeyed entry after a keyed
        one is a rewrite. ``checkpoint`` (default: the newest one this log knows) must be
        matched: fewer entries than it names is truncation."""
        cp = checkpoint or self._last_cp
        prev, n, expected_seq, unkeyed, keyed_seen = GENESIS, 0, 1, 0, False
        for r in self.db.conn().execute("SELECT * FROM audit_log ORDER BY seq"):
            n += 1
            alg = _alg(r)
            if alg == HMAC_SHA256 and not self.key:
                return VerifyResult(False, n, r["seq"], "entry is keyed (HMAC-SHA256): give "
                                    "the audit key to verify it", cp, unkeyed, needs_key=True)
            bad = self._check_row(r, alg, expected_seq, prev, keyed_seen)
            if bad:
                return VerifyResult(False, n, bad[0], bad[1], cp, unkeyed)
            keyed_seen = keyed_seen or alg == HMAC_SHA256
            unkeyed += alg != HMAC_SHA256
            if cp is not None and r["seq"] == cp.seq and r["hash"] != cp.head:
                return VerifyResult(False, n, r["seq"], "hash does not match the checkpoint "
                                    f"written at {cp.ts}: the chain was rewritten", cp, unkeyed)
            prev, expected_seq = r["hash"], expected_seq + 1
        if self.key and n and unkeyed == n:
            return VerifyResult(False, n, 1, "no entry is keyed under the audit key: the chain "
                                "was recomputed without it (or the key was never used)", cp, n)
        if cp is not None and n < cp.seq:
            return VerifyResult(False, n, n + 1, f"entries {n + 1}..{cp.seq} are missing: the "
                                f"checkpoint written at {cp.ts} names seq {cp.seq}", cp, unkeyed)
        return VerifyResult(True, n, checkpoint=cp, unkeyed=unkeyed)

    def _check_row(self, r: Any, alg: str, expected_seq: int, prev: str,
                   keyed_seen: bool) -> tuple[int, str] | None:
        if r["seq"] != expected_seq:
            return expected_seq, f"entry {expected_seq} is missing"
        if r["prev_hash"] != prev:
            return r["seq"], "prev_hash does not match previous entry"
        keyed = alg == HMAC_SHA256
        if not keyed and keyed_seen:
            return r["seq"], "entry is not keyed but earlier entries are: the chain was rewritten"
        h = entry_hash(r["seq"], r["ts"], r["actor"], r["action"], r["subject"],
                       r["payload"], r["prev_hash"], self.key if keyed else None)
        if not hmac.compare_digest(h, r["hash"]):
            why = " (or it was written with another audit key)" if keyed else ""
            return r["seq"], "hash does not match contents" + why
        return None


def _alg(r: Any) -> str:
    return r["alg"] if "alg" in r.keys() else SHA256  # a file not migrated (read-only)


def _row(r: Any) -> AuditEntry:
    return AuditEntry(r["seq"], r["ts"], r["actor"], r["action"], r["subject"],
                      json.loads(r["payload"]), r["prev_hash"], r["hash"])
