"""The human steps: cancel before execution, retry or abort a stopped rollback, lift the lock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.clock import iso
from bot.errors import Refused
from bot.messages import post_message
from bot.rollback import paging
from bot.rollback.configsync import drop_dry_run, plan_config
from bot.rollback.message import announce, mark, refresh, say
from bot.rollback.run import approval_gap, execute, verify
from bot.rollback.service import may_resolve, store
from storage.rollback import KIND, RollbackRow

if TYPE_CHECKING:
    from bot.services import Services


def cancel(svc: Services, row: RollbackRow, actor: str, reason: str) -> RollbackRow:
    """Call off a rollback that has not started executing."""
    if not svc.actions.move(KIND, row.id, "cancelled",
                                 only_from=("awaiting-approval", "scheduled")):
        raise Refused(f"{row.id} is {row.status}; only a rollback that has not started "
                      "executing can be cancelled")
    for job in ("execute", "escalate", "expire", "window"):
        svc.scheduler.remove(f"rollback-{job}:{row.id}")
    req = svc.approvals.for_subject("rollback", row.id)
    if req is not None:
        svc.approvals.transition(req.id, "open", "cancelled")
    drop_dry_run(svc, row, f"rollback {row.id} cancelled")
    store(svc).update_data(row.num, {"error": f"cancelled by <@{actor}>"
                                              + (f": {reason}" if reason else "")})
    svc.audit.append(actor, "rollback.cancelled", row.id, {"reason": reason})
    for step in store(svc).get(row.num).data["steps"]:  # type: ignore[union-attr]
        if step["status"] == "running":
            mark(svc, row, step["name"], "skipped", f"cancelled by <@{actor}>")
    say(svc, row, f"{row.id} cancelled by <@{actor}>: {reason or 'no reason given'}")
    paging.resolve(svc, row, f"cancelled by {actor}: {reason or 'no reason given'}")
    return refresh(svc, row)


def retry(svc: Services, row: RollbackRow, actor: str) -> RollbackRow:
    """Resume a stopped rollback at the step it failed (a new dry-run for a Config one)."""
    if row.status != "failed":
        raise Refused(f"{row.id} is {row.status}; only a stopped (failed) rollback is retried")
    gap = approval_gap(svc, row)
    if gap:
        raise Refused(f"{row.id} cannot be retried: {gap}")
    e = svc.audit.append(actor, "rollback.retry", row.id, {"step": row.data.get("failed_step")})
    store(svc).modify(row.num, lambda data: data.setdefault("retries", []).append({
        "by": actor, "at": iso(svc.clock.now()), "step": row.data.get("failed_step"),
        "audit_seq": e.seq}))
    say(svc, row, f"<@{actor}> retries {row.id} from {row.data.get('failed_step')}")
    if row.kind == "config" and row.data.get("failed_step") in ("Plan", "Execute"):
        if not svc.actions.move(KIND, row.id, "awaiting-approval", only_from=("failed",)):
            raise Refused(f"{row.id} moved meanwhile; check `/rollback status {row.id}`")
        drop_dry_run(svc, row, f"rollback {row.id} retried with a new dry-run")
        plan_config(svc, store(svc).get(row.num))  # type: ignore[arg-type]
        return refresh(svc, row)
    if not svc.actions.move(KIND, row.id, "executing", only_from=("failed",)):
        raise Refused(f"{row.id} moved meanwhile; check `/rollback status {row.id}`")
    step = row.data.get("failed_step")
    row = store(svc).get(row.num)  # type: ignore[assignment]
    if step and step.startswith("Verify"):
        return verify(svc, row, actor)
    return execute(svc, row.num, actor)


def abort(svc: Services, row: RollbackRow, actor: str, reason: str) -> RollbackRow:
    """Give up a stopped rollback; the product lock stays until resolved."""
    if not svc.actions.move(KIND, row.id, "aborted", only_from=("failed",)):
        raise Refused(f"{row.id} is {row.status}; only a stopped (failed) rollback is aborted"
                      + ("; use /rollback cancel before it executes"
                         if row.status in ("awaiting-approval", "scheduled") else ""))
    drop_dry_run(svc, row, f"rollback {row.id} aborted")
    svc.audit.append(actor, "rollback.aborted", row.id, {"reason": reason,
                                                         "step": row.data.get("failed_step")})
    locked = svc.locks.frozen(row.product)
    note = (f" {row.product} stays locked until `/rollback resolve {row.id} REASON`."
            if locked and locked.ref == row.id else "")
    # the stop was announced in the channel (and paged on-call): so is giving up
    announce(svc, row, f":heavy_minus_sign: <@{actor}> aborted {row.id} ({row.product}): "
                       f"{reason.rstrip('.')}.{note}")
    return refresh(svc, row)


def resolve(svc: Services, row: RollbackRow, actor: str, reason: str) -> RollbackRow:
    """Lift the product lock (release managers), once the rollback is done or aborted."""
    why = may_resolve(svc, actor)
    if why:
        raise Refused(why)
    if row.status not in ("done", "aborted", "superseded"):
        hint = {"failed": f"retry it or `/rollback abort {row.id} REASON` first",
                "executing": "wait until it finishes",
                "awaiting-approval": "nothing ran and nothing is locked; "
                                     f"`/rollback cancel {row.id}` calls it off",
                "scheduled": "nothing ran yet and nothing is locked; "
                             f"`/rollback cancel {row.id}` calls it off"}.get(
                                 row.status, "nothing is locked")
        raise Refused(f"{row.id} is {row.status}: {hint}")
    fr = svc.locks.frozen(row.product)
    if fr is None or fr.ref != row.id:
        raise Refused(f"{row.product} is not locked by {row.id}"
                      + (f"; {fr.ref} holds its lock now: `/rollback resolve {fr.ref} REASON`"
                         if fr else ""))
    svc.locks.unfreeze(row.product)
    at = iso(svc.clock.now())
    # the rollbacks whose lock this one took over are lifted with it
    handed = [r for r in store(svc).done_for(row.product, ("done", "aborted", "superseded"))
              if (r.data.get("lock") or {}).get("handed_to") == row.id
              and not r.data["lock"].get("lifted")]
    for r, why in [(row, reason)] + [(r, f"lifted with {row.id}: {reason}") for r in handed]:
        store(svc).modify(r.num, lambda data, why=why: data.update(lock={
            **(data.get("lock") or {}), "lifted": at, "lifted_by": actor, "lift_reason": why}))
        svc.audit.append(actor, "rollback.unlocked", r.id, {"product": row.product,
                                                            "reason": why})
        if r is not row:
            refresh(svc, r)
    post_message(svc, f":unlock: {row.product} unlocked by <@{actor}> ({row.id}): {reason}. "
                      "Releases and syncs are allowed again.", None, row.channel)
    for r in [row, *handed]:  # a superseded rollback's incident closes with the lock
        paging.resolve(svc, r, f"resolved by {actor}: {reason}"
                       + (f" (with {row.id})" if r is not row else ""))
    return refresh(svc, row)
