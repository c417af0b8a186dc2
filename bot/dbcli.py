"""``relbot db migrate`` and ``relbot db copy --from URL --to URL``."""

from __future__ import annotations

import argparse

from bot.cliutil import wrap
from bot.errors import RelbotError
from storage.db import Database
from storage.dialect import database_errors, redact_url


def _open(target: str, *, must_exist: bool = False) -> Database:
    from bot.cli import db_missing

    if must_exist and db_missing(target):
        raise RelbotError(f"database {target} does not exist")
    try:
        return Database(target)
    except database_errors() as exc:
        raise RelbotError(f"cannot open {redact_url(target)}: {exc}") from None


def cmd_migrate(args: argparse.Namespace) -> str:
    """Create or upgrade every component's tables; running it again changes nothing."""
    from storage.schema import migrate_all

    db = _open(args.db)
    try:
        steps = migrate_all(db)
    finally:
        db.close()
    moved = [f"{c} {b} -> {a}" for c, b, a in steps if a != b]
    where = redact_url(db.url)
    if not moved:
        return f"{where}: schema up to date ({len(steps)} components)"
    return f"{where}: migrated " + ", ".join(moved)


def cmd_copy(args: argparse.Namespace) -> tuple[str, int]:
    """Copy everything from one database into an empty one, then verify the audit chain
    at the destination: exit 0 only when the chain and every table's row count match."""
    from bot.cli import _audit_settings
    from storage.audit import AuditLog
    from storage.schema import CopyRefused, copy_all, migrate_all, row_counts

    key, _ = _audit_settings(args.config, None)
    src, dst = _open(args.source, must_exist=True), _open(args.dest)
    try:
        migrate_all(src)
        migrate_all(dst)
        try:
            copied = copy_all(src, dst)
        except CopyRefused as exc:
            raise RelbotError(f"{redact_url(args.dest)} is not empty: {exc}; copy into a new "
                              "database") from None
        want, got = row_counts(src), row_counts(dst)
        result = AuditLog(dst, key=key, migrate=False).verify()
    finally:
        src.close()
        dst.close()
    lines = [f"{t}: {n} rows" for t, n in copied.items() if n]
    if want != got:
        diff = ", ".join(f"{t} {want.get(t)} != {got.get(t)}" for t in want
                         if want.get(t) != got.get(t))
        return "\n".join([*lines, f"FAILED: row counts differ: {diff}"]), 1
    if result.needs_key:
        return "\n".join([*lines, "FAILED: the audit chain is keyed: give the config with "
                          "audit.key (--config) or RELBOT_AUDIT_KEY to verify it"]), 1
    if not result.ok:
        return "\n".join([*lines, f"FAILED: audit chain at the destination broken at entry "
                          f"{result.bad_seq}: {result.reason}"]), 1
    return "\n".join([*lines, f"ok: copied {sum(copied.values())} rows to "
                      f"{redact_url(args.dest)}; audit chain verified ({result.count} "
                      "entries)"]), 0


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="database maintenance (migrate, copy)")
    dsub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    m = dsub.add_parser("migrate", help="create or upgrade the schema (idempotent)")
    m.set_defaults(func=wrap(cmd_migrate))
    c = dsub.add_parser("copy", help="copy everything into an empty database, then verify")
    c.add_argument("--from", dest="source", required=True,
                   help="source, e.g. sqlite:///relbot.db")
    c.add_argument("--to", dest="dest", required=True, help="destination, e.g. postgresql://...")
    c.set_defaults(func=wrap(cmd_copy))
