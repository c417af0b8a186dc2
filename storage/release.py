"""Release records and check results (all release SQL lives here).

A release's status is its action's (``actions`` row ``release:<id>``, kind ``release``): the
step it is at while active, ``released`` or ``aborted`` once finished; the action's
``exclusive`` slot ``release:<product>`` keeps one active release per product. Every read
here joins ``actions`` for it. The ``releases.step`` and ``releases.status`` columns are unused
since migration 4 (kept, empty for newer rows: migrations only add, so an older replica still
opens the schema); ``steps`` keeps when each step was entered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from storage.actions import ActionStore
from storage.db import Database
from storage.dialect import PerDialect, integrity_errors

_BACKFILL = """
INSERT INTO actions(id, kind, subject, digest, status, active, exclusive, parent, created,
                    updated)
SELECT 'release:' || CAST(id AS VARCHAR), 'release', CAST(id AS VARCHAR), commit_sha,
       CASE WHEN status = 'active' THEN step ELSE status END,
       CASE WHEN status = 'active' THEN 1 ELSE 0 END,
       'release:' || product, NULL, COALESCE({entered}, ''), COALESCE({step_at}, '')
FROM releases
WHERE NOT EXISTS (SELECT 1 FROM actions a WHERE a.kind = 'release'
                  AND a.subject = CAST(releases.id AS VARCHAR));
DROP INDEX releases_one_active;
"""

MIGRATIONS: list[str | PerDialect] = [
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
    # the status moves to the release's action (issue 11): one action per existing release
    # (active: its step; finished: released/aborted), created when its step was entered
    PerDialect(sqlite=_BACKFILL.format(
        entered="json_extract(steps, '$.\"Feature Freeze\"')",
        step_at="json_extract(steps, '$.\"' || step || '\"')"),
        postgresql=_BACKFILL.format(entered="(steps::json ->> 'Feature Freeze')",
                                    step_at="(steps::json ->> step)")),
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
    """A release as stored; ``step`` and ``status`` come from its action (``status`` is
    ``active``, ``released`` or ``aborted``; ``step`` the step it is at, ``Released``, or for
    an aborted release the step it was aborted at)."""

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


_SELECT = ("SELECT r.*, a.status AS action_status, a.active AS action_active FROM releases r "
           "JOIN actions a ON a.kind = 'release' AND a.subject = CAST(r.id AS VARCHAR)")


def state(action_status: str, active: bool, steps: dict[str, str]) -> tuple[str, str]:
    """``(step, status)`` of a release whose action is in ``action_status``."""
    if active:
        return action_status, "active"
    if action_status == "released":
        return "Released", "released"
    return (list(steps)[-1] if steps else ""), action_status


def active_rows(db: Database) -> list[dict[str, Any]]:
    """The active releases' own columns and ``step`` (their action's status), newest first:
    for readers outside the release feature (reminders, App Home)."""
    rows = db.conn().execute(
        "SELECT r.id, r.product, r.version, r.bump, a.status AS step, r.starter, "
        "r.commit_sha, r.channel, r.ts FROM releases r JOIN actions a ON a.kind = 'release' "
        "AND a.subject = CAST(r.id AS VARCHAR) WHERE a.active = 1 ORDER BY r.id DESC")
    return [dict(r) for r in rows.fetchall()]


class ReleaseStore:
    """Persistence for releases; creation is atomic so one of two racers wins."""

    def __init__(self, db: Database) -> None:
        self.db = db
        ActionStore(db)     # the status lives there: its table first (migration 4 fills it)
        db.migrate("release", MIGRATIONS)

    def create(self, product: str, version: str, bump: str, step: str, starter: str,
               commit: str, at: str, checks: dict[str, str], reason: str = "") -> int:
        """Insert a release entering ``step`` and return its id; raise Conflict naming what is
        in the way. The caller creates its action in the same transaction (the action holds
        the status and the product's one active slot)."""
        with self.db.tx() as c:
            other = self.conflict(product, version)
            if other:
                raise Conflict(other)
            try:
                cur = c.execute(
                    "INSERT INTO releases(id, product, version, bump, step, status, starter, "
                    "commit_sha, start_commit, steps, start_reason) "
                    "VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM releases),"
                    " ?, ?, ?, '', '', ?, ?, ?, ?, ?) RETURNING id",
                    (product, version, bump, starter, commit, commit,
                     json.dumps({step: at}), reason))
            except integrity_errors():
                raise Conflict(f"{product} {version} is already being released") from None
            rid = int(cur.fetchone()[0])
            for cid, result in checks.items():
                c.execute("INSERT INTO release_checks(release_id, check_id, result) "
                          "VALUES (?, ?, ?)", (rid, cid, result))
        return rid

    def conflict(self, product: str, version: str) -> str | None:
        """What keeps ``product`` ``version`` from starting: the same version on record, or
        the product's active release (``api 1.3.0 is already active``); None when nothing."""
        r = self.db.conn().execute(
            "SELECT r.version, a.status, a.active FROM releases r JOIN actions a ON a.kind = "
            "'release' AND a.subject = CAST(r.id AS VARCHAR) WHERE r.product = ? AND "
            "(r.version = ? OR a.active = 1) ORDER BY CASE WHEN r.version = ? THEN 0 ELSE 1 "
            "END LIMIT 1", (product, version, version)).fetchone()
        if r is None:
            return None
        return f"{product} {r['version']} is already " + \
            ("active" if r["active"] else r["status"])

    def get(self, rid: int) -> ReleaseRow | None:
        r = self.db.conn().execute(_SELECT + " WHERE r.id = ?", (rid,)).fetchone()
        return self._load(r) if r else None

    def by_message(self, channel: str, ts: str) -> ReleaseRow | None:
        """The release whose message is ``channel``/``ts`` (what a click was made on)."""
        r = self.db.conn().execute(_SELECT + " WHERE r.channel = ? AND r.ts = ? AND r.ts <> ''",
                                   (channel, ts)).fetchone()
        return self._load(r) if r else None

    def find(self, product: str | None, version: str | None) -> ReleaseRow | None:
        """By version (latest if product None), else the newest active release."""
        sql, args = _SELECT + " WHERE 1=1", []
        if product:
            sql += " AND r.product = ?"
            args.append(product)
        if version:
            sql += " AND r.version = ?"
            args.append(version)
        else:
            sql += " AND a.active = 1"
        r = self.db.conn().execute(sql + " ORDER BY r.id DESC LIMIT 1", args).fetchone()
        return self._load(r) if r else None

    def released(self, product: str) -> list[str]:
        rows = self.db.conn().execute(
            "SELECT r.version FROM releases r JOIN actions a ON a.kind = 'release' AND "
            "a.subject = CAST(r.id AS VARCHAR) WHERE r.product = ? AND a.status = 'released'",
            (product,))
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
        sql, args = _SELECT, []
        if product:
            sql += " WHERE r.product = ?"
            args.append(product)
        r = self.db.conn().execute(sql + " ORDER BY r.id DESC LIMIT 1", args).fetchone()
        return self._load(r) if r else None

    def all_versions(self, product: str) -> list[str]:
        """Every version of ``product`` on record, any status, oldest first."""
        rows = self.db.conn().execute(
            "SELECT version FROM releases WHERE product = ? ORDER BY id", (product,))
        return [r["version"] for r in rows]

    def releases_of(self, product: str) -> list[ReleaseRow]:
        """Every release of ``product``, oldest first."""
        rows = self.db.conn().execute(
            _SELECT + " WHERE r.product = ? ORDER BY r.id", (product,)).fetchall()
        return [self._load(r) for r in rows]

    def set_message(self, rid: int, channel: str, ts: str) -> None:
        with self.db.tx() as c:
            c.execute("UPDATE releases SET channel = ?, ts = ? WHERE id = ?", (channel, ts, rid))

    def record_step(self, rid: int, step: str, at: str, reason: str | None = None) -> None:
        """Note when ``step`` was entered (and, on abort, why). The release's action moves in
        the same transaction (the caller's): this is not the status."""
        with self.db.tx() as c:
            r = c.execute("SELECT steps FROM releases WHERE id = ?", (rid,)).fetchone()
            steps = {**json.loads(r["steps"]), step: at}
            if reason is None:
                c.execute("UPDATE releases SET steps = ? WHERE id = ?", (json.dumps(steps), rid))
            else:
                c.execute("UPDATE releases SET steps = ?, reason = ? WHERE id = ?",
                          (json.dumps(steps), reason, rid))

    def set_notes(self, rid: int, digest: str, commit: str = "") -> None:
        with self.db.tx() as c:
            c.execute("UPDATE releases SET notes_digest = ?, notes_commit = ? WHERE id = ?",
                      (digest, commit, rid))

    def _load(self, r: Any) -> ReleaseRow:
        steps = json.loads(r["steps"])
        step, status = state(r["action_status"], bool(r["action_active"]), steps)
        row = ReleaseRow(r["id"], r["product"], r["version"], r["bump"], step, status,
                         r["starter"], r["commit_sha"], r["channel"], r["ts"], steps,
                         r["notes_digest"], r["reason"],
                         start_commit=r["start_commit"], notes_commit=r["notes_commit"],
                         tag_name=r["tag_name"], tag_object=r["tag_object"],
                         tag_remote=r["tag_remote"], start_reason=r["start_reason"])
        for c in self.db.conn().execute(
                "SELECT * FROM release_checks WHERE release_id = ? ORDER BY check_id", (r["id"],)):
            row.checks[c["check_id"]] = CheckRow(c["check_id"], c["result"], c["actor"],
                                                 c["at"], c["evidence"], c["audit_seq"],
                                                 c["commit_sha"])
        return row
