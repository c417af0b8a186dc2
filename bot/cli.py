"""The ``relbot`` command line: ``cmd_*`` functions return text, ``main(argv)`` an exit code.

Feature packages add their own subcommands through ``bot/<feature>/cli.py:register``;
they are listed once, in :data:`FEATURE_CLIS`, and imported only when their command runs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import yaml

from bot import __version__
from bot.config import load_config
from bot.errors import ConfigError, RelbotError
from storage.audit import AuditLog
from storage.checkpoints import CheckpointFile
from storage.db import Database
from storage.dialect import database_errors, redact_url

# command word -> the feature module that registers it (imported only when that command runs,
# or for the full help)
FEATURE_CLIS = {"db": "bot.dbcli", "sync": "bot.sync.cli", "release": "bot.release.cli",
                "calendar": "bot.cadence.cli", "rollback": "bot.rollback.cli",
                "demo": "bot.demo.cli", "outbox": "bot.outbox.cli"}


class CLIError(Exception):
    """A one-line error for the user, with the exit code to use."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def default_config() -> str:
    return os.environ.get("RELBOT_CONFIG", "./relbot.yml")


def default_db(config_path: str | None = None) -> str:
    """The database when ``--db`` is not given: ``RELBOT_DATABASE_URL``, ``RELBOT_DB``,
    the config's ``database:``, else ``./relbot.db``."""
    env = os.environ.get("RELBOT_DATABASE_URL") or os.environ.get("RELBOT_DB")
    if env:
        return env
    if config_path and Path(config_path).is_file():
        try:
            target = load_config(config_path).database_target()
        except ConfigError:  # the command itself reports the config's errors
            target = None
        if target:
            return target
    return "./relbot.db"


def db_missing(target: str) -> bool:
    """True for a SQLite file that does not exist (a PostgreSQL URL is never "missing")."""
    from storage.dialect import SQLITE, parse_target

    kind, path = parse_target(target)
    return kind == SQLITE and path != ":memory:" and not Path(path).exists()


# --- commands --------------------------------------------------------------------------

def cmd_check_config(path: str) -> tuple[str, int]:
    """Validate a config file: ``(report, exit code)``."""
    try:
        cfg = load_config(path)
        if cfg.calendar and cfg.calendar.file:
            from bot.cadence.loader import effective

            effective(cfg)  # a separate calendar file is validated too
    except ConfigError as exc:
        return str(exc), 1
    parts = [f"{path}: ok (channel {cfg.channel}, timezone {cfg.timezone}",
             f"{len(cfg.syncs)} syncs"]
    if cfg.releases:
        parts.append("releases")
    if cfg.calendar:
        parts.append("calendar")
    if cfg.rollback:
        parts.append("rollback")
    from bot.rollback.configcheck import warnings as config_rollback_warnings

    return "\n".join([", ".join(parts) + ")", *_command_warnings(cfg),
                      *config_rollback_warnings(cfg)]), 0


def _command_warnings(cfg: Any) -> list[str]:
    """Rollback commands that would not start on this machine (warnings: the config may be
    checked somewhere else than where the bot runs)."""
    out = []
    for name, p in (cfg.rollback.products.items() if cfg.rollback else ()):
        for key, argv in (("command", p.command), ("health_check", p.health_check)):
            if not argv:
                continue
            exe = argv[0]
            found = (cfg.base_dir / exe).is_file() if "/" in exe else shutil.which(exe)
            if not found:
                out.append(f"warning: rollback.products.{name}.{key}: {exe} not found "
                           f"(relative paths start in {cfg.base_dir})")
    return out


def _open_audit(db_path: str) -> AuditLog:
    if db_missing(db_path):
        raise CLIError(f"relbot: database {db_path} does not exist", 2)
    return AuditLog(Database(db_path))


def _audit_settings(config_path: str | None, checkpoints: str | None
                    ) -> tuple[bytes | None, CheckpointFile | None]:
    """The audit key and checkpoint file from the config (when it exists) or the
    environment (``RELBOT_AUDIT_KEY``); ``checkpoints`` overrides the file."""
    key, cp_file = None, None
    if config_path and Path(config_path).exists():
        cfg = load_config(config_path)
        key = cfg.audit.resolve_key()
        if cfg.audit.checkpoints is not None:
            cp_file = cfg.resolve_path(cfg.audit.checkpoints.file)
    elif os.environ.get("RELBOT_AUDIT_KEY"):
        key = os.environ["RELBOT_AUDIT_KEY"].encode()
    if checkpoints:
        cp_file = Path(checkpoints)
    return key, (CheckpointFile(cp_file, key) if cp_file else None)


def cmd_audit_verify(db_path: str, config_path: str | None = None,
                     checkpoints: str | None = None) -> tuple[str, int]:
    """Recompute the audit chain (opened read-only) against the newest readable checkpoint:
    exit 0 intact, 1 broken, 2 unreadable or unverifiable."""
    try:
        key, sink = _audit_settings(config_path, checkpoints)
    except RelbotError as exc:
        return f"relbot: cannot verify: {exc}", 2
    if db_missing(db_path):
        return f"relbot: database {db_path} does not exist", 2
    cp = sink.latest() if sink else None
    try:
        db = Database(db_path, readonly=True)
        try:
            result = AuditLog(db, key=key, migrate=False).verify(checkpoint=cp)
        finally:
            db.close()
    except database_errors() as exc:
        return f"relbot: cannot read the audit log in {redact_url(db_path)}: {exc}", 2
    if result.needs_key:
        return (f"relbot: cannot verify entry {result.bad_seq}: it is keyed; set the audit key "
                "(audit.key in --config, or RELBOT_AUDIT_KEY)"), 2
    if not result.ok:
        return f"audit log BROKEN at entry {result.bad_seq}: {result.reason}", 1
    notes = []
    if key:
        notes.append("HMAC-keyed" + (f", {result.unkeyed} entries from before the key"
                                     if result.unkeyed else ""))
    if cp is not None:
        notes.append(f"matches checkpoint seq {cp.seq} of {cp.ts}")
    elif sink is not None:
        notes.append(f"no readable checkpoint in {sink.path}")
    extra = f" ({'; '.join(notes)})" if notes else ""
    return f"audit log intact: {result.count} entries{extra}", 0


EXPORT_BATCH = 1000  # entries per YAML dump call: constant memory, little per-call overhead


def iter_audit_export(db_path: str, fmt: str = "jsonl", since: str | None = None
                      ) -> Iterator[str]:
    """The audit log as JSON lines or YAML, in chunks of text read and written as the
    entries stream from SQLite (memory stays constant however long the log is)."""
    if since:
        try:
            when = datetime.fromisoformat(since)
        except ValueError:
            raise CLIError(f"relbot: --since {since!r} is not an ISO date or datetime") from None
        if when.tzinfo:
            since = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    entries = (e.as_dict() for e in _open_audit(db_path).entries(since=since))
    if fmt != "yaml":
        for e in entries:
            yield json.dumps(e, sort_keys=True, ensure_ascii=False) + "\n"
        return
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's C emitter when present
    empty = True
    while batch := list(islice(entries, EXPORT_BATCH)):
        empty = False
        yield yaml.dump(batch, Dumper=dumper, sort_keys=False, allow_unicode=True)
    if empty:
        yield "[]\n"


def cmd_audit_export(db_path: str, fmt: str = "jsonl", since: str | None = None) -> str:
    """The audit log as JSON lines or YAML (all of it as one text; ``relbot audit export``
    streams :func:`iter_audit_export` instead)."""
    return "".join(iter_audit_export(db_path, fmt, since)).rstrip("\n")


# --- parser ----------------------------------------------------------------------------

def _command_word(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (skipping ``--config P`` / ``--db P`` before it)."""
    it = iter(argv)
    for word in it:
        if word in ("--config", "--db"):
            next(it, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv`` only the feature CLI its command needs is imported."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=None, help="config file (env RELBOT_CONFIG, "
                        "default ./relbot.yml)")
    common.add_argument("--db", default=None, help="database: SQLite file, sqlite:///PATH or "
                        "postgresql://... (env RELBOT_DATABASE_URL or RELBOT_DB, config "
                        "database:, default ./relbot.db)")
    p = argparse.ArgumentParser(prog="relbot", parents=[common],
                                description="Slack ChatOps bot for release and sync automation")
    p.add_argument("--version", action="version", version=f"relbot {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the bot (Socket Mode or HTTP)")
    run.add_argument("--http", action="store_true", help="serve HTTP even if SLACK_APP_TOKEN "
                     "is set")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=3000)
    run.add_argument("--health-port", type=int, default=None,
                     help="Socket Mode: serve /healthz, /readyz and /metrics on this port")
    run.add_argument("--threads", type=int, default=32,  # = bot.wsgi.ServerLimits.threads
                     help="HTTP worker threads (waitress); more requests wait in its queue")
    run.add_argument("--log-format", choices=["text", "json"],
                     default=os.environ.get("RELBOT_LOG_FORMAT", "text"),
                     help="stderr log lines: text, or one JSON object per line "
                     "(env RELBOT_LOG_FORMAT)")

    cc = sub.add_parser("check-config", help="validate the config")
    cc.add_argument("path", nargs="?", default=None)

    audit = sub.add_parser("audit", help="inspect the audit log")
    asub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    ver = asub.add_parser("verify", help="verify the hash chain (read-only; exit 0 intact, "
                          "1 broken, 2 unreadable)")
    ver.add_argument("--checkpoints", default=None,
                     help="checkpoint file (default: audit.checkpoints.file of the config)")
    ex = asub.add_parser("export", help="export entries")
    ex.add_argument("--format", choices=["jsonl", "yaml"], default="jsonl")
    ex.add_argument("--since", default=None, help="ISO date or datetime (UTC)")

    con = sub.add_parser("console",
                         help="local console: the bot against a built-in Slack stand-in")
    con.add_argument("--clock", default=None, help="start a fake clock at this ISO time")
    con.add_argument("--fake-github", action="store_true",
                     help="a GitHub stand-in on loopback decides RL-01/RL-02 (builds a "
                          "sandbox product unless the config has github: products)")

    word = _command_word(argv) if argv is not None else None
    wanted = ([] if word in sub.choices else [FEATURE_CLIS[word]] if word in FEATURE_CLIS
              else list(FEATURE_CLIS.values()))
    for name in wanted:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    _accept_common(p)
    return p


def _accept_common(parser: argparse.ArgumentParser) -> None:
    """Let every subcommand take ``--config``/``--db`` after its name too
    (``relbot rollback evidence RB-0001 --db x.db``). SUPPRESS keeps a subparser from
    overwriting a value given before the subcommand."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for sp in action.choices.values():
            if "--config" not in sp._option_string_actions:
                sp.add_argument("--config", default=argparse.SUPPRESS,
                                help="config file (as before the subcommand)")
                sp.add_argument("--db", default=argparse.SUPPRESS,
                                help="database file or URL (as before the subcommand)")
            _accept_common(sp)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``relbot`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    explicit_db = (getattr(args, "db", None) or os.environ.get("RELBOT_DATABASE_URL")
                   or os.environ.get("RELBOT_DB"))
    if getattr(args, "config", None) is None:
        args.config = default_config()
    if getattr(args, "db", None) is None:
        args.db = default_db(args.config)
    args.db_given = explicit_db is not None   # e.g. `sync plan` records only into a named db
    try:
        if args.command is None:
            parser.print_help()
            return 2
        if args.command == "check-config":
            text, code = cmd_check_config(args.path or args.config)
            print(text, file=sys.stdout if code == 0 else sys.stderr)
            return code
        if args.command == "audit":
            if args.audit_command == "verify":
                text, code = cmd_audit_verify(args.db, args.config, args.checkpoints)
                print(text, file=sys.stdout if code < 2 else sys.stderr)
                return code
            for chunk in iter_audit_export(args.db, args.format, args.since):
                sys.stdout.write(chunk)
            return 0
        if args.command == "run":
            from bot.runner import run_bot

            return run_bot(args)
        if args.command == "console":
            from bot.standin.console import run_console

            return run_console(args.config, explicit_db, sys.stdin, sys.stdout, clock=args.clock,
                               fake_github=args.fake_github)
        handler = getattr(args, "func", None)
        if handler is None:
            parser.print_help()
            return 2
        return int(handler(args) or 0)
    except CLIError as exc:
        print(exc, file=sys.stderr)
        return exc.code
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except RelbotError as exc:
        print(f"relbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `relbot ... | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
