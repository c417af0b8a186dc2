"""The one rollback message and its step bookkeeping (every step change is audited)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.clock import iso
from bot.messages import post_message, rendering, update_message
from bot.render.approval import approval_buttons, who_decided
from bot.render.common import user as mention
from bot.render.rollback import rollback_blocks, summary
from bot.rollback.service import config, elapsed, local_time, store
from storage.rollback import KIND, RollbackRow

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


def refresh(svc: Services, row: RollbackRow, force: bool = False) -> RollbackRow:
    """Post or update the one rollback message; returns the fresh row. Unchanged content is
    not sent again unless ``force`` (a refused checkbox click must be put back in Slack)."""
    with rendering(svc, f"rollback:{row.num}"):
        return _refresh(svc, row, force)


def _refresh(svc: Services, row: RollbackRow, force: bool) -> RollbackRow:
    row = store(svc).get(row.num) or row
    blocks = rollback_blocks(row, _approval_line(svc, row), lambda t: local_time(svc, t))
    req = svc.approvals.for_subject("rollback", row.id)
    if row.status == "awaiting-approval" and req is not None and req.status == "open":
        what = (f"rollback *{row.id}*: {row.product} {row.data.get('from_version')} → "
                f"{row.data.get('to_version')} ({row.data.get('kind')}, {row.procedure})")
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
    row = store(svc).get(row.num) or row
    return post_message(svc, text, None, row.channel, thread_ts=row.ts or None)


def announce(svc: Services, row: RollbackRow, text: str) -> None:
    """Post ``text`` in the channel and in the rollback's thread."""
    post_message(svc, text, None, row.channel)
    say(svc, row, text)


def _approval_line(svc: Services, row: RollbackRow) -> str:
    if row.procedure != "RB-PLN" or row.kind == "config" or not row.data["cell"]["approvals"]:
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


def mark(svc: Services, row: RollbackRow, step: str, status: str, note: str = "",
         actor: str = "relbot", **detail: Any) -> RollbackRow:
    """Record a step's status (audited with its timestamp) and update the message."""
    row = store(svc).get(row.num) or row
    steps = row.data.get("steps") or []
    at = iso(svc.clock.now())
    for s in steps:
        if s["name"] == step:
            s.update(status=status, at=at, note=note)
            if status == "running" or not s.get("started"):
                s["started"] = at
    svc.audit.append(actor, "rollback.step", row.id, {"step": step, "status": status,
                                                      "at": at, "note": note, **detail})
    store(svc).update_data(row.num, {"steps": steps})
    return refresh(svc, row)


def close_unapproved(svc: Services, row: RollbackRow, status: str, error: str, note: str,
                     payload: dict[str, Any]) -> bool:
    """End a rollback that never got its approval (expired, or its dry-run cancelled):
    nothing ran, the product is free. False when it had moved on meanwhile."""
    if not svc.actions.move(KIND, row.id, status, only_from=("awaiting-approval",)):
        return False
    for job in ("escalate", "window"):
        svc.scheduler.remove(f"rollback-{job}:{row.id}")
    store(svc).update_data(row.num, {"error": error})
    svc.audit.append("relbot", f"rollback.{status}", row.id, payload)
    mark(svc, row, "Approve", "failed", note)
    return True


def oncall(svc: Services) -> str:
    """On-call as Slack mentions: ``<!subteam^S0ID|@oncall>`` for groups Slack knows."""
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


def decided(svc: Services, row: RollbackRow, actor: str, step: str, note: str,
             status: str = "done") -> None:
    """Record the decision: time from declaration (audited against the 5-minute limit)."""
    now = iso(svc.clock.now())
    took = elapsed(row.declared, now)
    secs = int(took.total_seconds()) if took else 0
    store(svc).update_data(row.num, {"decided": now, "decision_seconds": secs})
    svc.audit.append(actor, "rollback.decided", row.id, {
        "cell": row.data["cell"], "matrix": row.data["cell_name"], "seconds": secs,
        "within_limit": secs <= config(svc).escalate_after.total_seconds()})
    mark(svc, row, step, status, f"{note} (decided {secs // 60}m{secs % 60:02d}s after "
                                 "declaration)")
    svc.scheduler.remove(f"rollback-escalate:{row.id}")
