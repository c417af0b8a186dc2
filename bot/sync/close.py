"""The ways a plan ends other than its own run finishing: its approval expires, someone
cancels it, or the process running it died (interrupted).

Each is one transaction (``svc.db.tx()``): the plan's move, its approval closed, the audit
entry and the messages commit together or not at all; the followers (a config rollback)
hear of it after the commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.messages import post_message
from bot.sync.message import refresh_message
from bot.sync.plan import Plan
from bot.sync.state import KIND, move, notify_finished, store, target_key

if TYPE_CHECKING:
    from bot.services import Services

INTERRUPTED = "interrupted: relbot stopped while this sync ran"


def expire_at(svc: Services, plan_id: str, expires: str) -> None:
    """Schedule the expiry of a plan's approval (inside a transaction: once it commits)."""
    svc.scheduler.add_once(f"sync-expire:{plan_id}", datetime.fromisoformat(expires),
                           "sync.expire", plan_id=plan_id)


def expire_job(svc: Services, plan_id: str) -> None:
    """Scheduler job: mark a still-open plan expired and update its message (a fault
    undoes all of it, and the job's retry tries again)."""
    row = store(svc).get(plan_id)
    req = svc.approvals.for_subject(KIND, plan_id)
    if row is None or req is None or row.status != "planned":
        return
    if not svc.approvals.state(req).expired:
        return
    note = f"approval expired at {req.expires}"
    with svc.db.tx():
        if not svc.approvals.transition(req.id, "open", "expired"):
            return  # approved (or closed) meanwhile: the quorum won
        if not move(svc, plan_id, "expired", note, only_from=("planned",)):
            return
        svc.audit.append("relbot", "sync.expired", plan_id, {"digest": row.digest})
        refresh_message(svc, plan_id)
    notify_finished(svc, plan_id, "expired", note)


def cancel(svc: Services, plan_id: str, actor: str, note: str, payload: dict[str, Any], *,
           notify: bool = True) -> bool:
    """Cancel a plan still waiting for approval (``note``: why, shown in its status) and
    close its approval, audited ``sync.cancelled`` with ``payload``; False if the plan is no
    longer planned. ``notify``: tell the followers (not when a follower cancels it)."""
    req = svc.approvals.for_subject(KIND, plan_id)
    with svc.db.tx():
        if not move(svc, plan_id, "cancelled", note, only_from=("planned",)):
            return False
        if req is not None:
            svc.approvals.transition(req.id, "open", "cancelled")
        svc.audit.append(actor, "sync.cancelled", plan_id, payload)
        refresh_message(svc, plan_id)  # the message no longer invites approvals
    if notify:
        notify_finished(svc, plan_id, "cancelled", note)
    return True


def recover(svc: Services) -> None:
    """At start-up: check each plan a stopped relbot left running (a scheduler job, so it runs
    once start-up is done)."""
    for row in store(svc).with_status("running"):
        svc.scheduler.add_once(f"sync-recover:{row.id}", svc.clock.now(), "sync.recover",
                               plan_id=row.id)


def recover_job(svc: Services, plan_id: str) -> None:
    """Finish a plan left running as interrupted once its target leases have lapsed (until
    then it may still be running elsewhere); its followers hear ``failed``."""
    row = store(svc).get(plan_id)
    if row is None or row.status != "running":
        return
    plan = Plan.model_validate(row.plan)
    live = [lease for lease in (svc.locks.holder(target_key(t)) for t in plan.targets)
            if lease is not None and lease.holder.startswith(f"{plan_id}:")]
    if live:
        when = max(datetime.fromisoformat(lease.expires) for lease in live)
        svc.scheduler.add_once(f"sync-recover:{plan_id}", when + timedelta(seconds=1),
                               "sync.recover", plan_id=plan_id)
        return
    with svc.db.tx():
        if not move(svc, plan_id, "failed", INTERRUPTED, only_from=("running",)):
            return
        svc.audit.append("relbot", "sync.interrupted", plan_id, {"digest": row.digest})
        post_message(svc, f":warning: Sync {plan_id} was interrupted: relbot stopped while it "
                          f"ran. Check the target, then `/sync plan {row.sync}` for a new "
                          "dry-run.", None, row.channel, row.ts or None)
        refresh_message(svc, plan_id)
    notify_finished(svc, plan_id, "failed", INTERRUPTED)
