"""``relbot sync plan|list``."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from bot.config import load_config
from bot.errors import RelbotError
from bot.render.sync import summary_text
from bot.sync.flow import record_yaml
from bot.sync.plan import Plan, build_plan


def cmd_list(args: argparse.Namespace) -> str:
    """The defined syncs."""
    cfg = load_config(args.config)
    if not cfg.syncs:
        return "no syncs defined"
    return "\n".join(f"{s.name} ({s.type}): {s.source.repo} -> "
                     + ", ".join(t.repo for t in s.all_targets()) for s in cfg.syncs)


def _plan(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
        sd = cfg.sync(args.name)
        if sd is None:
            raise RelbotError(f"sync {args.name!r} is not defined in syncs")
        cache = Path(args.cache or Path(cfg.base_dir) / ".relbot" / "sync-cache") / sd.name
        plan = build_plan(sd, cfg.base_dir, cache, source_ref=args.ref)
    except (RelbotError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary_text(plan)[0])
    try:
        print(_record(args, plan))
    except RelbotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1 if plan.changed else 0


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _record(args: argparse.Namespace, plan: Plan) -> str:
    """Record the dry-run (DR-05) in the database named by ``--db``/``RELBOT_DB``, or say
    plainly that it is not recorded."""
    if not getattr(args, "db_given", False):
        return (f"not recorded: {plan.id} is a terminal dry-run only; give --db (or "
                "RELBOT_DB) to record it as evidence (DR-05)")
    from types import SimpleNamespace

    from bot.actions.record import Actions
    from bot.auditlog import open_audit
    from bot.clock import SystemClock
    from storage.actions import ActionStore
    from storage.db import Database
    from storage.sync import SyncStore
    if args.db != ":memory:" and not Path(args.db).exists():
        raise RelbotError(f"database {args.db} does not exist (give the bot's file with --db "
                          "or RELBOT_DB)")
    db = Database(args.db)
    try:
        cfg = load_config(args.config)
        actor = f"cli:{_user()}"
        with db.tx():  # the plan and its (finished) action, as the bot records them
            pid = SyncStore(db).insert_plan(plan.id, plan.sync, plan.digest,
                                            plan.model_dump(), actor, plan.created,
                                            status="dry-run")
            Actions(ActionStore(db), SystemClock()).create("sync", pid, "dry-run",
                                                           digest=plan.digest)
        e = open_audit(db, SystemClock(), SimpleNamespace(current=cfg)).append(
            actor, "sync.planned", pid, {
            "sync": plan.sync, "digest": plan.digest, "source_sha": plan.source_sha,
            "targets": [{"repo": t.repo, "branch": t.branch, "sha": t.sha}
                        for t in plan.targets],
            "counts": plan.counts(), "via": "relbot sync plan"})
    finally:
        db.close()
    return (f"recorded: dry-run {pid} (sha256 {plan.digest[:12]}) in {args.db}, audit entry "
            f"{e.seq}; not posted to Slack, so nobody can approve it")


def cmd_log(args: argparse.Namespace) -> str:
    """One sync log record (by log or plan ID) or the recent runs of a sync."""
    from storage.db import Database
    from storage.sync import SyncStore
    recs = SyncStore(Database(args.db)).logs(args.id, limit=1 if args.format == "yaml" else 20)
    if not recs:
        raise RelbotError(f"no sync log record for {args.id!r}")
    if args.format == "yaml":
        return record_yaml(recs[0]).rstrip()
    return "\n".join(f"{r['id']} {r['sync_name']} {r['evidence_id']} {r['result']} "
                     f"{r['started']} by {r['executor']}" for r in recs)


def _log(args: argparse.Namespace) -> int:
    try:
        print(cmd_log(args))
    except RelbotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``relbot sync ...``."""
    p = subparsers.add_parser("sync", help="sync dry-runs")
    sp = p.add_subparsers(dest="sync_cmd", required=True)
    pl = sp.add_parser("plan", help="dry-run a sync (exit 0 none, 1 changes, 2 error)")
    pl.add_argument("name")
    pl.add_argument("--config", default=argparse.SUPPRESS)
    pl.add_argument("--db", default=argparse.SUPPRESS,
                    help="record the dry-run (DR-05) in this database")
    pl.add_argument("--ref", default=None, help="source ref instead of the configured one")
    pl.add_argument("--cache", default=None, help="cache directory")
    pl.set_defaults(func=_plan)
    ls = sp.add_parser("list", help="defined syncs")
    ls.add_argument("--config", default=argparse.SUPPRESS)
    ls.set_defaults(func=lambda a: print(cmd_list(a)) or 0)
    lg = sp.add_parser("log", help="a sync log record (YAML) or recent runs")
    lg.add_argument("id", help="log ID (SL-...), plan ID (DR-...) or sync name")
    lg.add_argument("--format", choices=("text", "yaml"), default="text")
    lg.add_argument("--config", default=argparse.SUPPRESS)
    lg.add_argument("--db", default=argparse.SUPPRESS)
    lg.set_defaults(func=_log)
