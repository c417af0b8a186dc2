"""Release records and check results (all release SQL lives here)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from storage.db import Database
from storage.dialect import integrity_errors

MIGRATIONS = [
    """
    CREATE TABLE releases (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        product TEXT NOT NULL,
        version TEXT NOT NULL,
        bump TEXT NOT NULL,
        step TEXT NOT NULL,
        status TEXT NOT NULL,
        starter TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        channel TEXT NOT NULL DEFAULT '',
        ts TEXT NOT NULL DEFAULT '',
        steps TEXT NOT NULL DEFAULT '{}',
        notes_digest TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT '',
        UNIQUE(product, version)
    );
    CREATE UNIQUE INDEX releases_one_active ON releases(product) WHERE status = 'active';
    CREATE TABLE release_checks (
        release_id INTEGER NOT NULL REFERENCES releases(id),
        check_id TEXT NOT NULL,
        result TEXT NOT NULL,
        actor TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL DEFAULT '',
        evidence TEXT NOT NULL DEFAULT '',
        audit_seq INTEGER,
        PRIMARY KEY (release_id, check_id)
    );
    """,
    # lookups by key use an index (issue 14)
    """
    CREATE INDEX releases_version ON releases(version);
    """,
    # the candidate commit each check ran on, the tag, a cadence reason (issue 12)
    """
    ALTER TABLE release_checks ADD COLUMN commit_sha TEXT NOT NULL DEFAULT '';
    ALTER TABLE releases ADD COLUMN start_commit TEXT NOT NULL DEFAULT '';
    ALTER TABLE releases ADD COLUMN notes_commit TEXT NOT NULL DEFAULT '';
    ALTER TABLE releases ADD COLUMN tag_name TEXT NOT NULL DEFAULT '';
    ALTER TABLE releases ADD COLUMN tag_object TEXT NOT NULL DEFAULT '';
    ALTER TABLE releases ADD COLUMN tag_remote TEXT NOT NULL DEFAULT '';
    ALTER TABLE releases ADD COLUMN start_reason TEXT NOT NULL DEFAULT '';
    """,
]


class Conflict(Exception):  # noqa: N818
    """Another release already holds that version (or the product's active slot)."""


@dataclass
class CheckRow:
    check_id: str
    result: str
    actor: str = ""
    at: str = ""
    evidence: str = ""
    audit_seq: int | None = None
    commit: str = ""


@dataclass
class ReleaseRow:
    id: int
    product: str
    version: str
    bump: str
    step: str
    status: str
    starter: str
    commit: str
    channel: str
    ts: str
    steps: dict[str, str]
    notes_digest: str
    reason: str
    checks: dict[str, CheckRow] = field(default_factory=dict)
    start_commit: str = ""
    notes_commit: str = ""
    tag_name: str = ""
    tag_object: str = ""
    tag_remote: str = ""
    start_reason: str = ""


class ReleaseStore:
    """Persistence for releases; creation is atomic so one of two racers wins."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate("release", MIGRATIONS)

    def create(self, product: str, version: str, bump: str, step: str, starter: str,
               commit: str, at: str, checks: dict[str, str], reason: str = "") -> ReleaseRow:
        """Insert an active release; raise Conflict naming what is in the way."""
        with self.db.tx() as c:
            other = c.execute("SELECT version, status FROM releases WHERE product = ? AND "
                              "(version = ? OR status = 'active')", (product, version)).fetchone()
            if other:
                raise Conflict(f"{product} {other['version']} is already {other['status']}")
            try:
                cur = c.execute(
                    "INSERT INTO releases(id, product, version, bump, step, status, starter, "
                    "commit_sha, start_commit, steps, start_reason) "
                    "VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM releases),"
                    " ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?) RETURNING id",
                    (product, version, bump, step, starter, commit, commit,
                     json.dumps({step: at}), reason))
            except integrity_errors():
                raise Conflict(f"{product} {version} is already being released") from None
            rid = cur.fetchone()[0]
            for cid, result in checks.items():
                c.execute("INSERT INTO release_checks(release_id, check_id, result) "
                          "VALUES (?, ?, ?)", (rid, cid, result))
        got = self.get(int(rid))
        assert got is not None
        return got

    def get(self, rid: int) -> ReleaseRow | None:
        r = self.db.conn().execute("SELECT * FROM releases WHERE id = ?", (rid,)).fetchone()
        return self._load(r) if r else None

    def by_message(self, channel: str, ts: str) -> ReleaseRow | None:
        """The release whose message is ``channel``/``ts`` (what a click was made on)."""
        r = self.db.conn().execute("SELECT * FROM releases WHERE channel = ? AND ts = ? "
                                   "AND ts <> ''", (channel, ts)).fetchone()
        return self._load(r) if r else None

    def find(self, product: str | None, version: str | None) -> ReleaseRow | None:
        """By version (latest if product None), else the newest active release."""
        sql, args = "SELECT * FROM releases WHERE 1=1", []
        if product:
            sql += " AND product = ?"
            args.append(product)
        if version:
            sql += " AND version = ?"
            args.append(version)
        else:
            sql += " AND status = 'active'"
        r = self.db.conn().execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return self._load(r) if r else None

    def released(self, product: str) -> list[str]:
        rows = self.db.conn().execute(
            "SELECT version FROM releases WHERE product = ? AND status = 'released'", (product,))
        return [r["version"] for r in rows]

    def set_check(self, rid: int, cid: str, result: str, actor: str, at: str, evidence: str,
                  seq: int | None, commit: str = "") -> None:
        with self.db.tx() as c:
            c.execute("UPDATE release_checks SET result = ?, actor = ?, at = ?, evidence = ?, "
                      "audit_seq = ?, commit_sha = ? WHERE release_id = ? AND check_id = ?",
                      (result, actor, at, evidence, seq, commit, rid, cid))

    def set_candidate(self, rid: int, old: str, new: str) -> bool:
        """Compare-and-set the candidate commit; False when it changed meanwhile."""
        with self.db.tx() as c:
            cur = c.execute("UPDATE releases SET commit_sha = ? WHERE id = ? AND commit_sha = ?",
                            (new, rid, old))
        return cur.rowcount == 1

    def set_tag(self, rid: int, name: str, obj: str, remote: str) -> None:
        with self.db.tx() as c:
            c.execute("UPDATE releases SET tag_name = ?, tag_object = ?, tag_remote = ? "
                      "WHERE id = ?", (name, obj, remote, rid))

    def last(self, product: str | None) -> ReleaseRow | None:
        """The newest release (any status), of ``product`` when given."""
        sql, args = "SELECT * FROM releases", []
        if product:
            sql += " WHERE product = ?"
            args.append(product)
        r = self.db.conn().execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return self._load(r) if r else None

    def all_versions(self, product: str) -> list[str]:
        """Every version of ``product`` on record, any status, oldest first."""
        rows = self.db.conn().execute(
            "SELECT version FROM releases WHERE product = ? ORDER BY id", (product,))
        return [r["version"] for r in rows]

    def releases_of(self, product: str) -> list[ReleaseRow]:
        """Every release of ``product``, oldest first."""
        rows = self.db.conn().execute(
            "SELECT * FROM releases WHERE product = ? ORDER BY id", (product,)).fetchall()
        return [self._load(r) for r in rows]

    def set_message(self, rid: int, channel: str, ts: str) -> None:
        with self.db.tx() as c:
            c.execute("UPDATE releases SET channel = ?, ts = ? WHERE id = ?", (channel, ts, rid))

    def move(self, rid: int, from_step: str, to_step: str, at: str, status: str = "active",
             reason: str = "") -> bool:
        """Compare-and-set the step; only one caller moves a release."""
        with self.db.tx() as c:
            r = c.execute("SELECT steps FROM releases WHERE id = ? AND step = ? AND "
                          "status = 'active'", (rid, from_step)).fetchone()
            if not r:
                return False
            steps = {**json.loads(r["steps"]), to_step: at}
            c.execute("UPDATE releases SET step = ?, status = ?, steps = ?, reason = ? "
                      "WHERE id = ?", (to_step, status, json.dumps(steps), reason, rid))
        return True

    def set_notes(self, rid: int, digest: str, commit: str = "") -> None:
        with self.db.tx() as c:
            c.execute("UPDATE releases SET notes_digest = ?, notes_commit = ? WHERE id = ?",
                      (digest, commit, rid))

    def _load(self, r: Any) -> ReleaseRow:
        row = ReleaseRow(r["id"], r["product"], r["version"], r["bump"], r["step"], r["status"],
                         r["starter"], r["commit_sha"], r["channel"], r["ts"],
                         json.loads(r["steps"]), r["notes_digest"], r["reason"],
                         start_commit=r["start_commit"], notes_commit=r["notes_commit"],
                         tag_name=r["tag_name"], tag_object=r["tag_object"],
                         tag_remote=r["tag_remote"], start_reason=r["start_reason"])
        for c in self.db.conn().execute(
                "SELECT * FROM release_checks WHERE release_id = ? ORDER BY check_id", (r["id"],)):
            row.checks[c["check_id"]] = CheckRow(c["check_id"], c["result"], c["actor"],
                                                 c["at"], c["evidence"], c["audit_seq"],
                                                 c["commit_sha"])
        return row
