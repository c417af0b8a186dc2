"""``relbot outbox list|retry``: what the outbox holds, and failed messages queued again.

For an on-call engineer: a message Slack refused for good (``channel_not_found``,
``not_in_channel``, ``is_archived``...) is audited as ``outbox.failed`` and stays in the
database as ``failed``; once the cause is fixed (the bot invited, the channel unarchived),
``relbot outbox retry KEY`` (or ``--failed``) queues it again and a running relbot sends it.
"""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from bot.cliutil import offline_services, wrap
from bot.errors import UsageError
from bot.outbox.transport import METHOD
from storage.outbox import OpStatus, OutboxStore

STATES = ("failed", "pending", "sent", "superseded", "all")


def cmd_list(args: argparse.Namespace) -> str:
    """The newest operations in a state (failed by default), newest first; no texts beyond
    the first words."""
    svc = offline_services(args)
    rows = OutboxStore(svc.db).listing(None if args.state == "all" else args.state, args.limit)
    return "\n".join(_line(r) for r in rows) or f"no {args.state} messages in the outbox"


def _line(r: OpStatus) -> str:
    preview = " ".join(r.preview.split())[:40]
    error = f"  error: {r.error}" if r.error else ""
    return (f"#{r.id} {r.state} {METHOD[r.op]} {r.channel} {r.key} attempts {r.attempts} "
            f"at {r.done_at or r.created}{error}  \"{preview}\"")


def cmd_retry(args: argparse.Namespace) -> tuple[str, int]:
    """Queue failed operations again: those of message KEY(s) (with their thread's parent
    and the replies that failed with it) or, with ``--failed``, every failed one."""
    if bool(args.keys) == bool(args.failed):
        raise UsageError("give message keys (from `relbot outbox list`) or --failed")
    svc = offline_services(args)
    with svc.db.tx():   # queued again and audited together
        ids = OutboxStore(svc.db).requeue(None if args.failed else list(args.keys))
        if ids:
            svc.audit.append(f"cli:{_user()}", "outbox.retried",
                             ",".join(args.keys) or "failed", {"rows": ids})
    if not ids:
        return "nothing to retry: no failed operation matches", 1
    return (f"queued again: {len(ids)} operation(s) (#{', #'.join(map(str, ids))}); a running "
            "relbot sends them within a second"), 0


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def register(subparsers: Any) -> None:
    """Add ``relbot outbox ...``."""
    p = subparsers.add_parser("outbox", help="messages waiting for or refused by Slack")
    sub = p.add_subparsers(dest="outbox_cmd", required=True)
    a = sub.add_parser("list", help="operations in a state (default: failed), newest first")
    a.add_argument("--state", choices=STATES, default="failed")
    a.add_argument("--limit", type=int, default=50)
    a.set_defaults(func=wrap(cmd_list))
    b = sub.add_parser("retry", help="queue failed messages again")
    b.add_argument("keys", nargs="*", metavar="KEY", help="message keys (m-..., f-...)")
    b.add_argument("--failed", action="store_true", help="every failed operation")
    b.set_defaults(func=wrap(cmd_retry))
