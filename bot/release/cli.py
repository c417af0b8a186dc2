"""``relbot release propose|notes|evidence|verify-evidence``."""

from __future__ import annotations

import argparse
from typing import Any

import yaml

from bot.cliutil import offline_services, read_record, wrap
from bot.config import load_config
from bot.errors import RelbotError
from bot.release import evidence as ev
from bot.release import service as rs
from bot.release import version as vs


def cmd_propose(args: argparse.Namespace) -> str:
    """The proposed bump for PRODUCT and the commits that call for it."""
    cfg = load_config(args.config)
    try:
        p = rs.resolved_product(cfg, args.product)
    except RelbotError:
        raise RelbotError(f"product {args.product!r} is not in releases.products") from None
    last, bump, why = rs.propose(p)
    if bump is None:
        return f"{p.name}: nothing releasable since {last or 'the first commit'}"
    new = vs.next_version(last, bump)
    lines = [f"{p.name}: {bump} -> {new} ({vs.CADENCE[bump]}); last release {last or 'none'}"]
    return "\n".join(lines + [f"  {w}" for w in why])


def cmd_evidence(args: argparse.Namespace) -> str:
    """The evidence record of VERSION as YAML or JSON."""
    svc = offline_services(args)
    row = rs.find(svc, args.version, args.product)
    rec = ev.evidence(svc, row)
    if args.format == "json":
        import json
        return json.dumps(rec, indent=2)
    return yaml.safe_dump(rec, sort_keys=False)


def cmd_notes(args: argparse.Namespace) -> str:
    """Draft the notes of VERSION (files written, RL-08 recorded); returns the Markdown."""
    svc = offline_services(args)
    row = rs.find(svc, args.version, args.product)
    md, mdp, ymp = rs.draft_notes(svc, row, "cli")
    return md + f"\n(written to {mdp} and {ymp})"


def cmd_verify_evidence(args: argparse.Namespace) -> tuple[str, int]:
    """Check an evidence file against the audit log and the product's repository; exit 1
    with the problems listed."""
    rec = read_record(args.file)
    svc = offline_services(args)
    try:
        repo = rs.resolved_product(svc.config.current, rec.get("product")).repo
    except RelbotError:
        repo = None
    problems = ev.verify_evidence(svc.audit, rec, repo)
    if rec.get("tag") and repo is None:
        problems.append(f"product {rec.get('product')!r} is not configured: cannot check "
                        "its tag in the repository")
    if problems:
        return "\n".join(problems), 1
    tag = rec.get("tag") or {}
    where = (f"; tag {tag['name']} in {repo} points at {tag['commit'][:7]}" if tag else "")
    return (f"ok: evidence for {rec.get('product')} {rec.get('version')} matches the audit "
            f"log{where}", 0)


def register(subparsers: Any) -> None:
    """Add ``relbot release ...``."""
    p = subparsers.add_parser("release", help="release tools (propose, notes, evidence)")
    sub = p.add_subparsers(dest="release_cmd", required=True)
    a = sub.add_parser("propose", help="proposed bump for PRODUCT and why")
    a.add_argument("product")
    a.set_defaults(func=wrap(cmd_propose))
    for name, fn, hlp in (("evidence", cmd_evidence, "YAML evidence record"),
                          ("notes", cmd_notes, "draft release notes")):
        b = sub.add_parser(name, help=hlp)
        b.add_argument("version")
        b.add_argument("--product")
        if name == "evidence":
            b.add_argument("--format", choices=("yaml", "json"), default="yaml")
        b.set_defaults(func=wrap(fn))
    v = sub.add_parser("verify-evidence", help="check an evidence file against the audit log")
    v.add_argument("file")
    v.set_defaults(func=wrap(cmd_verify_evidence))
