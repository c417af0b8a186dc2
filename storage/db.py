"""Database access: SQLite (below) or PostgreSQL (``storage/pg.py``: a psycopg pool), and
per-component migrations shared by both. ``Database(target)`` takes a SQLite path,
``sqlite:///path`` or ``postgresql://...`` and returns the matching backend; the differences
between the two are in ``storage/dialect.py``.

SQLite: one file, WAL mode, per-thread connections, one writer.

Readers use their thread's connection freely (WAL: they never block on a writer). Writers in
one process take turns on a lock (``Database.writer``) instead of each spinning in SQLite's busy
handler, which sleeps in growing steps and so wastes most of the time the lock is free; the
busy timeout still covers writers in other processes. ``synchronous=NORMAL`` under WAL syncs at
checkpoints, not at every commit (a power cut may lose the last commits, never corrupts).

Each store module (audit, sync, release, ...) owns its tables and registers an ordered
list of migration scripts under its own component name. ``schema_version`` records how
far each component got, so a newer bot opens an older file and only runs what is new:
migrations only ever add, never drop.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bot.errors import DatabaseBusy, DatabaseUnwritable
from storage.dialect import SQLITE, PerDialect, is_postgres, parse_target

log = logging.getLogger(__name__)

_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_version (
    component TEXT PRIMARY KEY,
    version   INTEGER NOT NULL
);
"""


Migration = str | PerDialect


class Database:
    """A SQLite file shared by the bot's threads (one connection per thread).

    ``Database("postgresql://...")`` gives a :class:`storage.pg.PostgresDatabase` instead,
    with the same methods."""

    dialect = SQLITE
    _versions: dict[str, int] | None = None  # schema_version, read at the first migrate()

    def __new__(cls, target: str | Path = ":memory:", **kw: Any) -> Database:
        if cls is Database and is_postgres(target):
            from storage.pg import PostgresDatabase

            return super().__new__(PostgresDatabase)
        return super().__new__(cls)

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = parse_target(str(path))[1]
        self.url = f"sqlite:///{self.path}"
        self.readonly = readonly  # opened read-only (``relbot audit verify``): never writes
        if self.path != ":memory:" and not readonly:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._busy_ms = 30000
        self.writer = threading.RLock()
        self._migrate_lock = threading.Lock()
        # Every open connection, held weakly: a thread that ends drops its own (it is closed
        # once collected), so short-lived threads do not leak connections.
        self._all: weakref.WeakSet[sqlite3.Connection] = weakref.WeakSet()
        self._trace: Callable[[str], None] | None = None
        conn = self.conn()
        self.unwritable: str | None = None  # why the last write failed as read-only
        if readonly:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # is it a database?
            return
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_BOOTSTRAP)
        except sqlite3.OperationalError as exc:
            if _code(exc) in _UNWRITABLE:
                raise DatabaseUnwritable(self.path, str(exc)) from None
            raise

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit mode; use :meth:`tx` for transactions)."""
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._connect()
            c.row_factory = sqlite3.Row
            try:
                c.execute(f"PRAGMA busy_timeout={self._busy_ms}")
                c.execute("PRAGMA foreign_keys=ON")
                c.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.OperationalError as exc:  # opening a WAL file needs its -shm
                c.close()
                if _code(exc) in _UNWRITABLE:
                    self.unwritable = str(exc)
                    raise DatabaseUnwritable(self.path, str(exc)) from None
                raise
            self._local.conn = c
            self._all.add(c)
            if self._trace is not None:
                c.set_trace_callback(self._trace)
        return c

    def trace(self, callback: Callable[[str], None] | None) -> None:
        """Call ``callback(sql)`` for every statement on every connection, present and
        future (``bench/vote_cost.py`` counts statements); None stops it."""
        self._trace = callback
        for c in list(self._all):
            c.set_trace_callback(callback)

    def _connect(self) -> sqlite3.Connection:
        if not self.readonly:
            c = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                check_same_thread=False, factory=_Connection)
            c.writer = self.writer
            return c
        uri = "file:" + quote(str(Path(self.path).resolve())) + "?mode=ro"
        try:
            c = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None,
                                check_same_thread=False, factory=_ReadConnection)
            c.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return c
        except sqlite3.OperationalError:
            # A WAL file in a directory we may not write (no -shm to create): read the file
            # as it is on disk. Fine for verifying; the bot's own writes are not awaited.
            return sqlite3.connect(uri + "&immutable=1", uri=True, timeout=30,
                                   isolation_level=None, check_same_thread=False,
                                   factory=_ReadConnection)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """An ``IMMEDIATE`` transaction: writers serialise, readers are not blocked. Inside
        another ``tx()`` on this thread it joins that one (a transition and the writes it
        decides commit together), as on PostgreSQL."""
        c = self.conn()
        if c.in_transaction:
            yield c
            return
        with self._after_commit_hooks():
            try:
                with self.writer:
                    c.execute("BEGIN IMMEDIATE")
                    try:
                        yield c
                    except BaseException:
                        if c.in_transaction:
                            c.execute("ROLLBACK")
                        raise
                    else:
                        c.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if _code(exc) in _UNWRITABLE:
                    self.unwritable = str(exc)
                    raise DatabaseUnwritable(self.path, str(exc)) from None
                raise
            self.unwritable = None

    def in_transaction(self) -> bool:
        """Whether this thread is inside :meth:`tx` (a write now commits only with it)."""
        return getattr(self._local, "after", None) is not None

    def current_tx(self) -> object | None:
        """A token for this thread's transaction (the same object until the outermost
        :meth:`tx` ends, None outside one): what was read under one token is still what is
        committed while it lasts (writers are serialised)."""
        return getattr(self._local, "after", None)

    def after_commit(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` once this thread's transaction has committed: at once outside one,
        never if it rolls back. For what must not happen for a write that may yet be undone
        (metrics, waking the outbox's deliverer, adding a scheduler job). Run after a
        commit, a hook that raises is logged: it never fails the committed transaction or
        the hooks after it."""
        hooks = getattr(self._local, "after", None)
        if hooks is None:
            fn()
        else:
            hooks.append(fn)

    @contextmanager
    def _after_commit_hooks(self) -> Iterator[None]:
        """Around the outermost :meth:`tx`: collect :meth:`after_commit` hooks and run them,
        in order, once it has committed (and dropped the write lock)."""
        hooks: list[Callable[[], object]] = []
        self._local.after = hooks
        try:
            yield
        finally:
            self._local.after = None
        for fn in hooks:
            _run_hook(fn)

    def write(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """One write statement on its own (autocommit: no BEGIN/COMMIT round trip), taking the
        writer lock like :meth:`tx`; a read-only file raises :class:`DatabaseUnwritable` as
        there. Returns the cursor (``rowcount``, ``RETURNING`` rows)."""
        c = self.conn()
        try:
            cur = c.execute(sql, params)
        except sqlite3.OperationalError as exc:
            if _code(exc) in _UNWRITABLE:
                self.unwritable = str(exc)
                raise DatabaseUnwritable(self.path, str(exc)) from None
            raise
        if not c.in_transaction:
            self.unwritable = None
        return cur

    def write_problem(self) -> str | None:
        """Why this database cannot be written now (None: it can). A write of no rows inside a
        transaction that is rolled back: SQLite refuses it on a read-only file all the same."""
        if self.readonly:
            return "opened read-only"
        c = self.conn()
        try:
            with self.writer:
                c.execute("BEGIN IMMEDIATE")
                try:
                    c.execute("UPDATE schema_version SET version = version WHERE 0")
                finally:
                    c.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            if _code(exc) in _UNWRITABLE:
                self.unwritable = str(exc)
                return self.unwritable
            raise
        self.unwritable = None
        return None

    @property
    def file(self) -> Path | None:
        """The SQLite file (None in memory or on PostgreSQL)."""
        return None if self.path == ":memory:" else Path(self.path)

    def statements(self, script: Migration) -> list[str]:
        """A migration script as the statements this backend runs."""
        text = script.on(self.dialect) if isinstance(script, PerDialect) else script
        return _split_sql(text)

    def migrate(self, component: str, migrations: Sequence[Migration]) -> int:
        """Run the scripts of ``component`` not yet applied; returns the new version. The
        versions are read once per database (one statement for every component): an
        up-to-date component costs no transaction. Versions only grow, so a stale read
        can only send a component down the locked path, which reads again."""
        known = self._versions
        if known is None:
            known = self._versions = {r[0]: r[1] for r in self.conn().execute(
                "SELECT component, version FROM schema_version")}
        if known.get(component, 0) >= len(migrations):
            return known[component] if component in known else 0
        version = self._migrate(component, migrations)
        known[component] = version
        return version

    def _migrate(self, component: str, migrations: Sequence[Migration]) -> int:
        with self._migrate_lock, self.tx() as c:
            row = c.execute(
                "SELECT version FROM schema_version WHERE component = ?", (component,)
            ).fetchone()
            current = row["version"] if row else 0
            for script in migrations[current:]:
                for stmt in self.statements(script):
                    c.execute(stmt)
            if len(migrations) != current:
                c.execute(
                    "INSERT INTO schema_version(component, version) VALUES (?, ?) "
                    "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                    (component, len(migrations)),
                )
            return max(current, len(migrations))

    def writable(self) -> bool:
        """True when a write can be committed now (``/readyz``)."""
        return self.write_problem() is None

    def tables(self) -> list[str]:
        """Every table, referenced tables before those whose foreign keys point at them."""
        names = [r[0] for r in self.conn().execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name")]
        refs = {n: {r[2] for r in self.conn().execute(f'PRAGMA foreign_key_list("{n}")')}
                for n in names}
        return _dependency_order(names, refs)

    def after_copy(self, table: str) -> None:
        """Hook run after rows were copied in with their ids (PostgreSQL moves sequences)."""

    @contextmanager
    def briefly(self, seconds: float) -> Iterator[None]:
        """Writes inside wait at most ``seconds`` for the write lock (this process's writer
        and another process's SQLite lock), else raise :class:`DatabaseBusy` (an ack path
        must not wait the full busy timeout)."""
        if not self.writer.acquire(timeout=seconds):
            raise DatabaseBusy(self.path, seconds)
        c = self.conn()
        try:
            c.execute(f"PRAGMA busy_timeout={int(seconds * 1000)}")
            yield
        except sqlite3.OperationalError as exc:
            if _code(exc) in _BUSY:
                raise DatabaseBusy(self.path, seconds) from None
            raise
        finally:
            c.execute(f"PRAGMA busy_timeout={self._busy_ms}")
            self.writer.release()

    def set_busy_timeout(self, seconds: float) -> None:
        """How long one statement waits for another process's write lock (default 30 s),
        for this thread's connections and those opened later."""
        self._busy_ms = int(seconds * 1000)
        for c in list(self._all):
            c.execute(f"PRAGMA busy_timeout={self._busy_ms}")


    def version(self, component: str) -> int:
        row = self.conn().execute(
            "SELECT version FROM schema_version WHERE component = ?", (component,)
        ).fetchone()
        return row["version"] if row else 0

    def close(self) -> None:
        for c in list(self._all):
            try:
                c.close()
            except sqlite3.Error:
                pass
        self._all.clear()
        self._local = threading.local()


_READS = ("SELECT", "PRAGMA", "WITH", "EXPLAIN")


def _run_hook(fn: Callable[[], object]) -> None:
    try:
        fn()
    except Exception:  # an after-commit hook must never undo or fail a committed write
        log.exception("after-commit hook %r failed", fn)


class _Connection(sqlite3.Connection):
    """A connection whose single-statement writes outside a transaction also take the
    process's writer lock (stores write in autocommit mode as well as in :meth:`tx`)."""

    writer: threading.RLock

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        if self.in_transaction or sql.lstrip()[:7].upper().startswith(_READS):
            return super().execute(sql, parameters)
        with self.writer:
            return super().execute(sql, parameters)


class _ReadConnection(sqlite3.Connection):
    """A read-only connection (a subclass so that :attr:`Database._all` can hold it weakly)."""


# SQLITE_READONLY, SQLITE_CANTOPEN (a read-only directory: no -wal/-shm), SQLITE_PERM
_UNWRITABLE = {8, 14, 3}
_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED: another connection holds the write lock


def is_busy(exc: BaseException) -> bool:
    """Did ``exc`` come from the database being locked by another writer (try again)?"""
    if isinstance(exc, DatabaseBusy):
        return True
    return isinstance(exc, sqlite3.OperationalError) and _code(exc) in _BUSY


def _code(exc: sqlite3.Error) -> int:
    return (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def _dependency_order(names: list[str], refs: dict[str, set[str]]) -> list[str]:
    out: list[str] = []

    def visit(n: str, seen: frozenset[str] = frozenset()) -> None:
        if n in out or n in seen:
            return
        for r in sorted(refs.get(n, set()) - {n}):
            if r in refs:
                visit(r, seen | {n})
        out.append(n)

    for n in names:
        visit(n)
    return out


def _split_sql(script: str) -> list[str]:
    """Split a script into statements, keeping ``CREATE TRIGGER ... END;`` whole."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
