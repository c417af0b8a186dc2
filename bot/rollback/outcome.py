"""How a rollback ends or stops: done (communicate and document), stopped for a human at a
failed step, closed unapproved (expired, its dry-run gone); and the product lock it takes.

Each is one transaction: the move, the record, the audit entries and the messages it
queues; PagerDuty and the scheduler are told after the commit.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.clock import iso
from bot.messages import post_message
from bot.rollback import paging
from bot.rollback.evidence import evidence, record_digest
from bot.rollback.lookup import config, fresh, local_time, store
from bot.rollback.message import announce, oncall, refresh
from bot.rollback.record import Lock, RollbackRecord
from bot.rollback.steps import record_step
from storage.rollback import KIND, RollbackRow, parse_id

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


def finish(svc: Services, row: RollbackRow, actor: str) -> RollbackRow:
    """Communicate and document: channel notice, postmortem reminder, evidence digest."""
    rec = row.record
    came = rec.from_version
    what = (f"{row.product} rolled back {came} -> {rec.to_version}" if came != "unknown"
            else f"{row.product} rolled back to {rec.to_version}") + (
        f" (components {', '.join(rec.components)})" if rec.components else "")
    text = (f":white_check_mark: {row.id}: {what}. {row.product} stays locked until "
            f"`/rollback resolve {row.id} REASON`.")
    due = svc.clock.now() + config(svc).postmortem_after
    with svc.db.tx():
        if not svc.actions.move(KIND, row.id, "done", only_from=("executing",)):
            return fresh(svc, row)
        store(svc).update(row.num, failed_step=None, error="", completed=iso(svc.clock.now()),
                          postmortem_due=iso(due))
        announce(svc, row, text)
        if row.procedure == "RB-IMM":
            record_step(svc, row, "Communicate", "done", "channel and thread notified")
        record_step(svc, row, "Document" if row.procedure == "RB-IMM" else "Verify & document",
                    "done", f"evidence recorded; postmortem reminder {local_time(svc, iso(due))}")
        digest = record_digest(evidence(svc, fresh(svc, row)))
        svc.audit.append(actor, "rollback.completed", row.id, {"evidence_sha256": digest})
        row = refresh(svc, row)
        done = row  # PagerDuty and the scheduler once the outcome is committed
        svc.db.after_commit(lambda: svc.scheduler.add_once(
            f"rollback-postmortem:{done.id}", due, "rollback.postmortem", num=done.num))
        svc.db.after_commit(lambda: paging.resolve(svc, done, f"completed: {what}"))
    return row


def fail(svc: Services, row: RollbackRow, step: str, error: str) -> RollbackRow:
    """Stop: record the failure, tell the channel and on-call, leave the next step to a
    human. Nothing happens if the rollback moved on meanwhile (cancelled, say)."""
    page = oncall(svc)
    with svc.db.tx():
        if not svc.actions.move(KIND, row.id, "failed"):  # executing or awaiting-approval
            log.info("%s moved on before it could stop at %s: %s", row.id, step, error)
            return fresh(svc, row)
        store(svc).update(row.num, failed_step=step, error=error)
        record_step(svc, row, step, "failed", error)
        announce(svc, row, f":x: {row.id} stopped at {step}: {error.rstrip('.')}. Nothing "
                           f"further runs until a human decides: `/rollback retry {row.id}` or "
                           f"`/rollback abort {row.id} REASON`." + (f" {page}" if page else ""))
        row = refresh(svc, row)
        stopped = row  # PagerDuty once the stop is committed
        svc.db.after_commit(lambda: paging.trigger(svc, stopped, f"stopped at {step}: {error}"))
    return row


def crashed(svc: Services, num: int, exc: Exception) -> RollbackRow:
    """An unexpected fault mid-step: stop the rollback there for a human, and say why."""
    log.error("rollback RB-%04d: %s", num, type(exc).__name__, exc_info=exc)
    row = store(svc).get(num)
    assert row is not None
    if row.status != "executing":
        return row
    return fail(svc, row, row.record.current_step(),
                f"internal error ({type(exc).__name__}: {exc})")


def close_unapproved(svc: Services, row: RollbackRow, status: str, error: str, note: str,
                     payload: dict[str, Any]) -> bool:
    """End a rollback that never got its approval (expired, or its dry-run cancelled):
    nothing ran, the product is free. False when it had moved on meanwhile. Joins the
    caller's transaction (its message goes with it)."""
    with svc.db.tx():
        if not svc.actions.move(KIND, row.id, status, only_from=("awaiting-approval",)):
            return False
        for job in ("escalate", "window"):
            svc.scheduler.remove(f"rollback-{job}:{row.id}")
        store(svc).update(row.num, error=error)
        svc.audit.append("relbot", f"rollback.{status}", row.id, payload)
        record_step(svc, row, "Approve", "failed", note)
        refresh(svc, row)
    return True


def lock(svc: Services, row: RollbackRow, actor: str) -> None:
    """Freeze the product for this rollback (taking over an earlier rollback's lock)."""
    if fresh(svc, row).record.lock:
        return
    reason = f"rollback to {row.record.to_version}: {row.record.reason}"
    with svc.db.tx():
        prev = svc.locks.frozen(row.product)
        fr = svc.locks.freeze(row.product, row.id, reason, actor)
        store(svc).update(row.num, lock=Lock(since=fr.since, by=actor))
        took = prev.ref if prev and prev.ref != row.id else None
        svc.audit.append(actor, "rollback.locked", row.id, {"product": row.product,
                                                            "reason": reason, "took_over": took})
        old = store(svc).get(parse_id(took) or 0) if took else None
        if old is not None:  # one lock per product: the newer rollback now holds it
            store(svc).modify(old.num, lambda rec: _hand_over(rec, row.id))
            svc.audit.append(actor, "rollback.lock.handed_over", old.id, {"to": row.id})
            refresh(svc, old)


def _hand_over(rec: RollbackRecord, to: str) -> None:
    rec.lock = rec.lock or Lock()
    rec.lock.handed_to = to


def postmortem_job(svc: Services, num: int) -> None:
    """Scheduler job: remind the channel that the postmortem is due."""
    row = store(svc).get(num)
    if row is None:
        return
    with svc.db.tx():
        svc.audit.append("relbot", "rollback.postmortem.reminded", row.id, {})
        post_message(svc, f":memo: Postmortem due for {row.id} ({row.product} rolled back to "
                          f"{row.record.to_version} on {row.declared}): {row.record.reason}",
                     None, row.channel)
