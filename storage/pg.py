"""PostgreSQL backend: a psycopg 3 connection pool behind :class:`storage.db.Database`.

Stores keep calling ``db.conn().execute(sql, params)`` and ``with db.tx() as c:`` exactly as
on SQLite; statements are translated by :mod:`storage.dialect`. Outside a transaction each
statement borrows a pooled connection in autocommit mode and returns its rows fully read;
inside :meth:`PostgresDatabase.tx` the thread keeps one connection, so ``db.conn()`` in the
same thread joins the transaction (as SQLite's per-thread connection does).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from storage.db import _BOOTSTRAP, Database, Migration, _dependency_order
from storage.dialect import PG_WRITER_LOCK, POSTGRESQL, PerDialect, pg_ddl, pg_sql, redact_url

Params = Sequence[Any] | None


class Row:
    """A result row read like ``sqlite3.Row``: ``r["col"]``, ``r[0]``, ``dict(r)``."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: tuple[str, ...], values: Sequence[Any]) -> None:
        self._names, self._values = names, tuple(values)

    def keys(self) -> list[str]:
        return list(self._names)

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, int):
            return self._values[key]
        return self._values[self._names.index(key)]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._names, self._values, strict=True))!r})"


class Result:
    """What ``execute`` returns: the rows already fetched, and ``rowcount``."""

    lastrowid = None  # PostgreSQL has none: stores use INSERT ... RETURNING

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self._rows, self._next, self.rowcount = rows, 0, rowcount

    def fetchone(self) -> Row | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Row]:
        rows, self._next = self._rows[self._next:], len(self._rows)
        return rows

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())


class _Script(str):
    """A whole DDL script: sent as it is (no parameters, several statements)."""


def _run(raw: psycopg.Connection, sql: str, params: Params) -> Result:
    if isinstance(sql, _Script):
        return Result([], raw.execute(str(sql).encode()).rowcount)
    # Always a tuple: psycopg then reads placeholders, so pg_sql's ``%%`` is a literal ``%``.
    cur = raw.execute(pg_sql(sql), tuple(params or ()))
    rows: list[Row] = []
    if cur.description is not None:
        names = tuple(c.name for c in cur.description)
        rows = [Row(names, v) for v in cur.fetchall()]
    return Result(rows, cur.rowcount)


class Conn:
    """One pooled connection inside a transaction."""

    def __init__(self, raw: psycopg.Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Params = None) -> Result:
        return _run(self.raw, sql, params)


class AutoConn:
    """``db.conn()`` outside a transaction: each statement on a pooled connection."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def execute(self, sql: str, params: Params = None) -> Result:
        with self.pool.connection() as raw:
            return _run(raw, sql, params)


class _Probe(Exception):  # noqa: N818
    """Rolls the readiness probe's write back."""


class PostgresDatabase(Database):
    """A PostgreSQL database (or one schema of it, through ``options=-csearch_path=...``)
    shared by the bot's threads and by any number of replicas."""

    dialect = POSTGRESQL

    def __init__(self, url: str | Path, *, readonly: bool = False, max_size: int = 10) -> None:
        self.url = self.path = str(url)
        self.readonly = readonly  # read-only callers (audit verify) only read; nothing enforced
        self.unwritable: str | None = None
        self._local = threading.local()
        self._migrate_lock = threading.Lock()
        self.pool = ConnectionPool(self.url, min_size=1, max_size=max_size, timeout=30,
                                   kwargs={"autocommit": True}, open=False,
                                   name="relbot")
        try:
            self.pool.open(wait=True, timeout=30)
        except psycopg.Error as exc:
            self.pool.close()
            raise psycopg.OperationalError(
                f"cannot connect to {redact_url(self.url)}: {exc}") from None
        with self.tx() as c:  # a role without CREATE (docs/deploy.md) finds it made
            if c.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:
                c.execute(_BOOTSTRAP)

    @property
    def file(self) -> Path | None:
        return None

    @contextmanager
    def briefly(self, seconds: float) -> Iterator[None]:
        """As is: PostgreSQL writers queue on row and advisory locks, not a file lock."""
        yield

    def set_busy_timeout(self, seconds: float) -> None:
        """Nothing to set (SQLite's busy timeout)."""

    def conn(self) -> Conn | AutoConn:  # type: ignore[override]
        """The thread's transaction when inside :meth:`tx`, else autocommit statements."""
        current = getattr(self._local, "tx", None)
        return current if current is not None else AutoConn(self.pool)

    @contextmanager
    def tx(self) -> Iterator[Conn]:  # type: ignore[override]
        """A write transaction holding the schema's writer lock (``BEGIN IMMEDIATE``)."""
        current = getattr(self._local, "tx", None)
        if current is not None:  # nested: join the outer transaction
            yield current
            return
        with self._after_commit_hooks(), self.pool.connection() as raw, raw.transaction():
            raw.execute(PG_WRITER_LOCK)
            self._local.tx = Conn(raw)
            try:
                yield self._local.tx
            finally:
                self._local.tx = None

    def statements(self, script: Migration) -> list[str]:
        text = script.on(self.dialect) if isinstance(script, PerDialect) else script
        return [_Script(pg_ddl(text))]

    def tables(self) -> list[str]:
        names = [r[0] for r in self.conn().execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema ="
            " current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name")]
        refs: dict[str, set[str]] = {n: set() for n in names}
        for r in self.conn().execute(
                "SELECT cl.relname, ref.relname FROM pg_constraint c"
                " JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_class ref ON ref.oid ="
                " c.confrelid WHERE c.contype = 'f' AND cl.relnamespace ="
                " current_schema()::regnamespace"):
            refs.setdefault(r[0], set()).add(r[1])
        return _dependency_order(names, refs)

    def after_copy(self, table: str) -> None:
        """Move identity sequences past the copied ids."""
        for r in self.conn().execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema ="
                " current_schema() AND table_name = ? AND is_identity = 'YES'", (table,)):
            col = r[0]
            self.conn().execute(
                f'SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(MAX("{col}"), 0) + 1,'
                f' false) FROM "{table}"', (table, col))

    def write(self, sql: str, params: Params = ()) -> Result:  # type: ignore[override]
        """One write statement on its own (autocommit, or the thread's open transaction)."""
        return self.conn().execute(sql, params)

    def write_problem(self) -> str | None:
        """Why a write cannot be committed now (None: it can): a probe row inserted in a
        transaction that is rolled back (a standby, a read-only role or database, no server
        or no free connection all show here)."""
        try:
            with self.tx() as c:
                c.execute("INSERT INTO schema_version(component, version) VALUES (?, 0)",
                          ("readyz-probe",))
                raise _Probe
        except _Probe:
            self.unwritable = None
            return None
        except (psycopg.Error, PoolTimeout) as exc:
            self.unwritable = str(exc).strip() or type(exc).__name__
            return self.unwritable

    def close(self) -> None:
        self.pool.close()


