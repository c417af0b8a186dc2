"""Every store's migrations, for ``relbot db migrate`` and ``relbot db copy``.

Each store runs its own migrations when it is opened; this registry lets the CLI bring a
whole database up to date (or create it) without starting the bot. A new store adds its
component here (tests/test_db_cli.py fails when a running bot has a component not listed).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from storage.db import Database, Migration

#: component (as the store passes it to ``db.migrate``) -> module holding ``MIGRATIONS``
COMPONENTS: dict[str, str] = {
    "audit": "storage.audit",
    "events": "storage.events",
    "replays": "storage.replays",
    "locks": "storage.locks",
    "approvals": "storage.approvals",
    "actions": "storage.actions",
    "sync": "storage.sync",
    "release": "storage.release",
    "rollback": "storage.rollback",
    "cadence": "storage.cadence",
    "scheduler": "storage.jobstore",
    "outbox": "storage.outbox",
}


def migrations(component: str) -> Sequence[Migration]:
    return importlib.import_module(COMPONENTS[component]).MIGRATIONS  # type: ignore[no-any-return]


def migrate_all(db: Database) -> list[tuple[str, int, int]]:
    """Bring every component up to date: ``(component, version before, after)``."""
    out = []
    for component in COMPONENTS:
        before = db.version(component)
        out.append((component, before, db.migrate(component, migrations(component))))
    return out


class CopyRefused(Exception):  # noqa: N818
    """The destination already holds data (a copy never merges or overwrites)."""


def row_counts(db: Database) -> dict[str, int]:
    """Rows per table (``schema_version`` left out: each side has its own)."""
    return {t: int(db.conn().execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0])
            for t in db.tables() if t != "schema_version"}


def copy_all(src: Database, dst: Database, batch: int = 500) -> dict[str, int]:
    """Copy every row of every table of ``src`` into the empty, migrated ``dst`` in one
    transaction, ids included; returns rows copied per table."""
    full = {t: n for t, n in row_counts(dst).items() if n}
    if full:
        raise CopyRefused(", ".join(f"{t} ({n} rows)" for t, n in sorted(full.items())))
    dst_tables = set(dst.tables())
    copied: dict[str, int] = {}
    with dst.tx() as out:
        for table in src.tables():
            if table == "schema_version" or table not in dst_tables:
                continue
            rows = src.conn().execute(f'SELECT * FROM "{table}"').fetchall()
            if rows:
                cols = list(rows[0].keys())
                names = ", ".join(f'"{c}"' for c in cols)
                marks = ", ".join("?" * len(cols))
                for r in rows:
                    out.execute(f'INSERT INTO "{table}" ({names}) VALUES ({marks})',
                                tuple(r[c] for c in cols))
            copied[table] = len(rows)
        for table in copied:
            dst.after_copy(table)
    return copied
