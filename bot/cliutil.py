"""Shared pieces of the feature CLIs (``bot/<feature>/cli.py``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bot.auditlog import open_audit
from bot.clock import SystemClock
from bot.config import load_config
from bot.errors import Refused, RelbotError
from bot.redact import scrub
from storage.cadence import CadenceStore
from storage.db import Database
from storage.release import ReleaseStore
from storage.rollback import RollbackStore
from storage.sync import SyncStore

Result = str | tuple[str, int]


def offline_services(args: argparse.Namespace) -> Any:
    """Config, database, audit log and the feature stores for a CLI command (no Slack, no
    scheduler): the part of :class:`bot.services.Services` the offline commands read."""
    cfg = load_config(args.config)
    from bot.cli import db_missing

    if db_missing(args.db):
        raise RelbotError(f"database {args.db} does not exist (give the bot's file with --db "
                          "or RELBOT_DB)")
    db = Database(args.db)
    clock = SystemClock()
    holder = SimpleNamespace(current=cfg)
    audit = open_audit(db, clock, holder)  # keyed and checkpointed as the bot's own entries
    return SimpleNamespace(config=holder, db=db, audit=audit, clock=clock,
                           rollbacks=RollbackStore(db, lambda data: scrub(data, cfg.secrets)),
                           releases=ReleaseStore(db), cadence=CadenceStore(db),
                           syncs=SyncStore(db), rollback_shown={})


def wrap(fn: Callable[[argparse.Namespace], Result]) -> Callable[[argparse.Namespace], int]:
    """Turn a ``cmd_*`` function (text, or (text, exit code)) into an argparse handler."""
    def run(args: argparse.Namespace) -> int:
        try:
            out = fn(args)
        except RelbotError as exc:
            print(f"relbot: {exc}", file=sys.stderr)
            return 2
        except Refused as exc:  # a refusal is an answer, not a crash
            print(f"relbot: {exc}", file=sys.stderr)
            return 1
        text, code = out if isinstance(out, tuple) else (out, 0)
        print(text)
        return code
    return run


def read_record(path: str) -> dict[str, Any]:
    """An evidence record (YAML or JSON) from ``path``; a clear error when it is not one."""
    import yaml

    from bot import safeyaml

    try:
        rec = safeyaml.load(Path(path).read_text(encoding="utf-8"), max_bytes=16 << 20)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RelbotError(f"cannot read evidence file {path}: {exc}") from None
    if not isinstance(rec, dict):
        raise RelbotError(f"{path} is not an evidence record (a YAML mapping)")
    return rec
