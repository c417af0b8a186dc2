"""Everything that differs between SQLite and PostgreSQL, in one place.

Stores write one SQL text (SQLite's spelling, which is also standard SQL for almost all of
it: ``?`` placeholders, ``INSERT ... ON CONFLICT``, ``RETURNING``, partial indexes). For
PostgreSQL :func:`pg_sql` and :func:`pg_ddl` translate the few differences:

* placeholders ``?`` -> ``%s`` (and a literal ``%`` -> ``%%``);
* ``INSERT OR IGNORE`` -> ``INSERT ... ON CONFLICT DO NOTHING``;
* DDL types: ``INTEGER PRIMARY KEY AUTOINCREMENT`` -> an identity column, ``INTEGER`` ->
  ``BIGINT``, ``REAL`` -> ``DOUBLE PRECISION``, ``BLOB`` -> ``BYTEA``, ``TEXT`` -> ``TEXT
  COLLATE "C"`` (byte order, as SQLite compares), ``COLLATE NOCASE`` (an index for SQLite's
  case-blind ``LIKE``) -> ``COLLATE "C"`` (PostgreSQL's ``LIKE 'prefix%'`` uses that);
* SQLite's append-only triggers (``CREATE TRIGGER t BEFORE UPDATE ON x BEGIN SELECT
  RAISE(ABORT, 'msg'); END;``) -> a PL/pgSQL function raising the same message and a trigger.

``BEGIN IMMEDIATE`` (SQLite: one writer at a time) becomes, on PostgreSQL, a transaction
holding a transaction-scoped advisory lock for the schema (:data:`PG_WRITER_LOCK`), so the
read-then-write transactions the stores rely on (audit chain, leases, compare-and-set) stay
serialised across every replica. Anything no rule covers is written per dialect with
:class:`PerDialect`.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from dataclasses import dataclass
from functools import lru_cache

SQLITE = "sqlite"
POSTGRESQL = "postgresql"


# psycopg costs ~45 ms of start-up, so it is imported only once a postgresql:// database is
# opened (storage/pg.py). Until then no psycopg error can exist, so catching sqlite3's is
# enough. ``except`` evaluates its expression when an exception is matched: catch sites write
# ``except integrity_errors():`` to get the tuple for the backends loaded at that moment.
def integrity_errors() -> tuple[type[Exception], ...]:
    """Constraint violations (unique key, foreign key) on every backend loaded so far."""
    pg = sys.modules.get("psycopg")
    return (sqlite3.IntegrityError,) if pg is None else (sqlite3.IntegrityError, pg.IntegrityError)


def database_errors() -> tuple[type[Exception], ...]:
    """Any database error on every backend loaded so far."""
    pg = sys.modules.get("psycopg")
    return (sqlite3.Error,) if pg is None else (sqlite3.Error, pg.Error)


def __getattr__(name: str) -> tuple[type[Exception], ...]:
    # The former constants ``IntegrityError`` / ``DatabaseError`` (both backends, so they
    # import psycopg): kept for callers that bind them at import.
    if name in ("IntegrityError", "DatabaseError"):
        import psycopg  # noqa: F401  (registers the module for the functions above)

        return integrity_errors() if name == "IntegrityError" else database_errors()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

#: Taken by every write transaction on PostgreSQL: one writer per schema, like SQLite.
PG_WRITER_LOCK = "SELECT pg_advisory_xact_lock(1919252580, hashtext(current_schema()))"


@dataclass(frozen=True)
class PerDialect:
    """A migration script (or statement) spelled differently on each backend."""

    sqlite: str
    postgresql: str

    def on(self, dialect: str) -> str:
        return self.postgresql if dialect == POSTGRESQL else self.sqlite


def parse_target(target: str) -> tuple[str, str]:
    """``(dialect, what to open)`` for a database URL or a plain SQLite path.

    ``sqlite:///relbot.db`` and ``sqlite:////abs/path.db`` -> the file, ``postgresql://...``
    and ``postgres://...`` -> the URL unchanged; anything else is a SQLite path (``--db``).
    """
    if target.startswith(("postgresql://", "postgres://")):
        return POSTGRESQL, target
    if target.startswith("sqlite://"):
        rest = target[len("sqlite://"):]
        return SQLITE, (rest[1:] if rest.startswith("/") else rest) or ":memory:"
    return SQLITE, target


def is_postgres(target: object) -> bool:
    return parse_target(str(target))[0] == POSTGRESQL


def redact_url(url: str) -> str:
    """The URL with any password masked (for messages and logs)."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


# --- statements ----------------------------------------------------------------------------

_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO", re.I)
_OR_REPLACE = re.compile(r"^\s*INSERT\s+OR\s+REPLACE", re.I)


@lru_cache(maxsize=1024)
def pg_sql(sql: str) -> str:
    """One SQLite-spelled statement as psycopg takes it."""
    if _OR_REPLACE.match(sql):
        raise ValueError("INSERT OR REPLACE has no PostgreSQL spelling: write "
                         "INSERT ... ON CONFLICT(key) DO UPDATE SET ... instead")
    if _OR_IGNORE.match(sql):
        sql = _OR_IGNORE.sub("INSERT INTO", sql, count=1)
        head, sep, tail = _split_returning(sql)
        sql = f"{head.rstrip()} ON CONFLICT DO NOTHING{sep}{tail}"
    return _placeholders(sql)


def _split_returning(sql: str) -> tuple[str, str, str]:
    m = re.search(r"\sRETURNING\s", sql, re.I)
    return (sql[:m.start()], " " + m.group().strip() + " ", sql[m.end():]) if m \
        else (sql, "", "")


def _placeholders(sql: str) -> str:
    """``?`` -> ``%s`` and ``%`` -> ``%%`` outside quoted strings and identifiers."""
    out: list[str] = []
    quote = ""
    for ch in sql:
        if quote:
            out.append("%%" if ch == "%" else ch)
            if ch == quote:
                quote = ""
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


# --- DDL ---------------------------------------------------------------------------------

_TRIGGER = re.compile(
    r"CREATE\s+TRIGGER\s+(?P<name>\w+)\s+BEFORE\s+(?P<op>UPDATE|DELETE|INSERT)\s+ON\s+"
    r"(?P<table>\w+)\s+BEGIN\s+SELECT\s+RAISE\s*\(\s*ABORT\s*,\s*'(?P<msg>[^']*)'\s*\)\s*;"
    r"\s*END\s*;?", re.I | re.S)
_TYPES = [
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", re.I),
     "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
    (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
    (re.compile(r"\bTEXT\b(?!\s+COLLATE)", re.I), 'TEXT COLLATE "C"'),
    (re.compile(r"\bCOLLATE\s+NOCASE\b", re.I), 'COLLATE "C"'),  # LIKE prefixes use it
]


def pg_ddl(script: str) -> str:
    """A SQLite migration script as PostgreSQL DDL (one script, run as a whole)."""
    script = _TRIGGER.sub(_pg_trigger, script)
    head, body = _protect_bodies(script)
    for pattern, repl in _TYPES:
        head = pattern.sub(repl, head)
    return head.format(*body)


def _pg_trigger(m: re.Match[str]) -> str:
    name, op, table, msg = m["name"], m["op"].upper(), m["table"], m["msg"]
    msg = msg.replace("%", "%%")
    return (f"CREATE FUNCTION {name}_fn() RETURNS trigger LANGUAGE plpgsql AS $relbot$ "
            f"BEGIN RAISE EXCEPTION '{msg}' USING ERRCODE = 'restrict_violation'; END "
            f"$relbot$;\nCREATE TRIGGER {name} BEFORE {op} ON {table} FOR EACH "
            f"{'STATEMENT' if op == 'TRUNCATE' else 'ROW'} EXECUTE FUNCTION {name}_fn();\n"
            + (f"CREATE TRIGGER {name}_truncate BEFORE TRUNCATE ON {table} FOR EACH "
               f"STATEMENT EXECUTE FUNCTION {name}_fn();\n" if op == "DELETE" else ""))


def _protect_bodies(script: str) -> tuple[str, list[str]]:
    """Take ``$relbot$...$relbot$`` bodies out so type rewriting leaves them alone."""
    bodies: list[str] = []

    def keep(m: re.Match[str]) -> str:
        bodies.append(m.group())
        return f"{{{len(bodies) - 1}}}"

    escaped = script.replace("{", "{{").replace("}", "}}")
    return re.sub(r"\$relbot\$.*?\$relbot\$", keep, escaped, flags=re.S), bodies
