"""Leases (expiring exclusive locks) and product freezes, both in SQLite.

* A *lease* guards one execution per target (a sync target, a rollback of a product).
  It expires by itself, so a crashed execution never blocks its target for ever.
* A *freeze* is set after a rollback: ``/release start`` and syncs into the product are
  refused until someone lifts it with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock, iso
from storage.db import Database

MIGRATIONS = [
    """
    CREATE TABLE leases (
        key        TEXT PRIMARY KEY,
        holder     TEXT NOT NULL,
        purpose    TEXT NOT NULL,
        acquired   TEXT NOT NULL,
        expires    TEXT NOT NULL
    );
    CREATE TABLE freezes (
        product    TEXT PRIMARY KEY,
        ref        TEXT NOT NULL,
        reason     TEXT NOT NULL,
        actor      TEXT NOT NULL,
        since      TEXT NOT NULL
    );
    """,
]


@dataclass(frozen=True)
class Lease:
    key: str
    holder: str
    purpose: str
    acquired: str
    expires: str


@dataclass(frozen=True)
class Freeze:
    product: str
    ref: str
    reason: str
    actor: str
    since: str

    def describe(self) -> str:
        """``api is locked by rollback RB-0001 since ... (why); /rollback resolve ...``."""
        return (f"{self.product} is frozen by rollback {self.ref} since {self.since} "
                f"({self.reason}); lift it with `/rollback resolve {self.ref} REASON`")


class Locks:
    """Leases and freezes for one database."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock
        db.migrate("locks", MIGRATIONS)

    def acquire(self, key: str, holder: str, ttl: timedelta, purpose: str = "") -> Lease | None:
        """Take the lease on ``key``; returns ``None`` on success, else the current holder's."""
        now = self.clock.now()
        with self.db.tx() as c:
            row = c.execute("SELECT * FROM leases WHERE key = ?", (key,)).fetchone()
            if row and row["expires"] > iso(now) and row["holder"] != holder:
                return Lease(**dict(row))
            c.execute(
                "INSERT INTO leases(key, holder, purpose, acquired, expires) VALUES (?,?,?,?,?)"
                " ON CONFLICT(key) DO UPDATE SET holder=excluded.holder,"
                " purpose=excluded.purpose, acquired=excluded.acquired, expires=excluded.expires",
                (key, holder, purpose, iso(now), iso(now + ttl)),
            )
        return None

    def release(self, key: str, holder: str) -> bool:
        """Release ``key`` if ``holder`` holds it; True when something was released."""
        cur = self.db.conn().execute(
            "DELETE FROM leases WHERE key = ? AND holder = ?", (key, holder))
        return cur.rowcount > 0

    def holder(self, key: str) -> Lease | None:
        """The live lease on ``key``, or None (expired leases do not count)."""
        row = self.db.conn().execute("SELECT * FROM leases WHERE key = ?", (key,)).fetchone()
        if row and row["expires"] > iso(self.clock.now()):
            return Lease(**dict(row))
        return None

    def freeze(self, product: str, ref: str, reason: str, actor: str) -> Freeze:
        now = iso(self.clock.now())
        with self.db.tx() as c:
            c.execute(
                "INSERT INTO freezes(product, ref, reason, actor, since) VALUES (?,?,?,?,?)"
                " ON CONFLICT(product) DO UPDATE SET ref=excluded.ref, reason=excluded.reason,"
                " actor=excluded.actor, since=excluded.since",
                (product, ref, reason, actor, now),
            )
        return Freeze(product, ref, reason, actor, now)

    def unfreeze(self, product: str) -> Freeze | None:
        with self.db.tx() as c:
            row = c.execute("SELECT * FROM freezes WHERE product = ?", (product,)).fetchone()
            if row:
                c.execute("DELETE FROM freezes WHERE product = ?", (product,))
        return Freeze(**dict(row)) if row else None

    def all_frozen(self) -> list[Freeze]:
        """Every frozen product, oldest freeze first."""
        rows = self.db.conn().execute("SELECT * FROM freezes ORDER BY since").fetchall()
        return [Freeze(**dict(r)) for r in rows]

    def frozen(self, product: str) -> Freeze | None:
        """The freeze on ``product`` (set by a rollback), or None."""
        row = self.db.conn().execute(
            "SELECT * FROM freezes WHERE product = ?", (product,)).fetchone()
        return Freeze(**dict(row)) if row else None


def expired(when: str, now: datetime) -> bool:
    return when <= iso(now)
