"""``relbot rollback list|evidence|verify-evidence``."""

from __future__ import annotations

import argparse
import json
from typing import Any

import yaml

from bot.cliutil import offline_services, read_record, wrap
from bot.render.rollback import summary
from bot.rollback.evidence import evidence, verify_evidence
from bot.rollback.lookup import find, store


def cmd_list(args: argparse.Namespace) -> str:
    """Recent rollbacks, newest first."""
    rows = store(offline_services(args)).recent(args.limit)
    return "\n".join(f"{summary(r)}  declared {r.declared} by {r.requester}"
                     for r in rows) or "no rollbacks yet"


def cmd_evidence(args: argparse.Namespace) -> str:
    """The evidence record of rollback ID as YAML (or JSON)."""
    svc = offline_services(args)
    rec = evidence(svc, find(svc, args.id))
    if args.format == "json":
        return json.dumps(rec, indent=2)
    return yaml.safe_dump(rec, sort_keys=False)


def cmd_verify_evidence(args: argparse.Namespace) -> tuple[str, int]:
    """Check an evidence file against the audit log: exit 0 verified, 1 with the problems."""
    rec = read_record(args.file)
    svc = offline_services(args)
    problems = verify_evidence(svc.audit, rec)
    if problems:
        return "\n".join(problems), 1
    return f"ok: evidence for {rec.get('id')} ({rec.get('product')}) matches the audit log", 0


def register(subparsers: Any) -> None:
    """Add ``relbot rollback ...``."""
    p = subparsers.add_parser("rollback", help="rollback records (list, evidence)")
    sub = p.add_subparsers(dest="rollback_cmd", required=True)
    a = sub.add_parser("list", help="recent rollbacks")
    a.add_argument("--limit", type=int, default=20)
    a.set_defaults(func=wrap(cmd_list))
    b = sub.add_parser("evidence", help="the evidence record of rollback ID")
    b.add_argument("id")
    b.add_argument("--format", choices=("yaml", "json"), default="yaml")
    b.set_defaults(func=wrap(cmd_evidence))
    v = sub.add_parser("verify-evidence", help="check an evidence file against the audit log")
    v.add_argument("file")
    v.set_defaults(func=wrap(cmd_verify_evidence))
