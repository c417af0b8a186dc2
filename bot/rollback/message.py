"""The one rollback message, its thread and the on-call mention (Slack through the outbox).

Nothing here decides anything: a transition calls :func:`refresh`, :func:`say` or
:func:`announce` inside its transaction, so the queued messages commit with the move.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.messages import post_message, rendering, update_message
from bot.render.approval import approval_buttons, who_decided
from bot.render.common import user as mention
from bot.render.rollback import rollback_blocks, summary
from bot.rollback.lookup import config, fresh, local_time, store
from storage.rollback import RollbackRow

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


def refresh(svc: Services, row: RollbackRow, force: bool = False) -> RollbackRow:
    """Post or update the one rollback message, rendered from the stored state; returns the
    fresh row. Unchanged content is not sent again unless ``force`` (a refused checkbox
    click must be put back in Slack). The writer's transaction is taken before the
    rendering lock (every caller in that order)."""
    with svc.db.tx(), rendering(svc, f"rollback:{row.num}"):
        return _refresh(svc, row, force)


def _refresh(svc: Services, row: RollbackRow, force: bool) -> RollbackRow:
    row = fresh(svc, row)
    rec = row.record
    blocks = rollback_blocks(row, _approval_line(svc, row), lambda t: local_time(svc, t))
    req = (svc.approvals.for_subject("rollback", row.id)
           if row.status == "awaiting-approval" else None)   # its buttons show only then
    if req is not None and req.status == "open":
        what = (f"rollback *{row.id}*: {row.product} {rec.from_version} → "
                f"{rec.to_version} ({rec.kind}, {row.procedure})")
        blocks = [*blocks, approval_buttons(req.id, what)]
    shown = svc.rollback_shown
    key = hash((summary(row), repr(blocks)))
    if row.ts and shown.get(row.num) == key and not force:
        return row  # nothing changed: spare Slack the chat.update
    num = row.num   # remembered once committed: a rolled-back refresh showed nothing
    svc.db.after_commit(lambda: shown.__setitem__(num, key))
    if row.ts:
        update_message(svc, row.channel, row.ts, summary(row), blocks)
    else:
        channel = svc.config.current.channel
        ts = post_message(svc, summary(row), blocks, channel)
        store(svc).set_message(row.num, channel, ts)
        row.channel, row.ts = channel, ts
    return row


def say(svc: Services, row: RollbackRow, text: str) -> str:
    """Post ``text`` in the rollback's thread."""
    row = _posted(svc, row)
    return post_message(svc, text, None, row.channel, thread_ts=row.ts or None)


def announce(svc: Services, row: RollbackRow, text: str) -> None:
    """Post ``text`` in the channel and in the rollback's thread."""
    row = _posted(svc, row)
    post_message(svc, text, None, row.channel)
    say(svc, row, text)


def _posted(svc: Services, row: RollbackRow) -> RollbackRow:
    """``row`` with its message's channel and key: set once, when the message is first
    queued, so a row that has them needs no second read."""
    return row if row.ts else fresh(svc, row)


def _approval_line(svc: Services, row: RollbackRow) -> str:
    if row.procedure != "RB-PLN" or row.kind == "config" or not row.record.cell.approvals:
        return ""  # never opens an approval of its own (a Config one's is its dry-run's)
    req = svc.approvals.for_subject("rollback", row.id)
    if req is None:
        return ""
    st = svc.approvals.state(req)
    who = who_decided(st.approved_by)
    if row.status != "awaiting-approval":
        return f"approved by: {who}"
    reacts = " or ".join(f":{r}:" for r in req.policy.get("reactions", ()))
    return f"approved by: {who}\n{st.needs_text()}; react with {reacts} or press Approve"


def oncall(svc: Services) -> str:
    """On-call as Slack mentions: ``<!subteam^S0ID|@oncall>`` for groups Slack knows. May
    ask Slack for the group ids: call it before a transaction, never inside one."""
    out = []
    for o in config(svc).oncall:
        gid = None
        if o.startswith("@"):
            try:
                gid = svc.groups.group_id(o)
            except Exception:  # noqa: BLE001 - a lookup failure still pages by name
                log.warning("could not look up on-call group %s", o, exc_info=True)
            if not gid:
                log.warning("on-call %s is not a Slack user group relbot can see: it is "
                            "named in plain text and nobody is notified", o)
        out.append(f"<!subteam^{gid}|{o}>" if gid else mention(o))
    return " ".join(out)
