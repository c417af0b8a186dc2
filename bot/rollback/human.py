"""The human steps: tick a checklist, cancel before execution, retry or abort a stopped
rollback, lift the lock. Each move commits with its record, audit entry and messages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.clock import iso
from bot.errors import Refused
from bot.messages import post_message
from bot.rollback import checklists as cl
from bot.rollback import paging
from bot.rollback.access import may_act, may_resolve
from bot.rollback.configsync import drop_dry_run, plan_config
from bot.rollback.flow import schedule_escalation
from bot.rollback.lookup import fresh, store
from bot.rollback.message import announce, refresh, say
from bot.rollback.record import Retry, RollbackRecord
from bot.rollback.run import approval_gap, execute, verify
from bot.rollback.steps import record_step
from storage.rollback import KIND, RollbackRow

if TYPE_CHECKING:
    from bot.services import Services


def cancel(svc: Services, row: RollbackRow, actor: str, reason: str) -> RollbackRow:
    """Call off a rollback that has not started executing."""
    with svc.db.tx():
        if not svc.actions.move(KIND, row.id, "cancelled",
                                only_from=("awaiting-approval", "scheduled")):
            raise Refused(f"{row.id} is {row.status}; only a rollback that has not started "
                          "executing can be cancelled")
        for job in ("execute", "escalate", "expire", "window"):
            svc.scheduler.remove(f"rollback-{job}:{row.id}")
        req = svc.approvals.for_subject("rollback", row.id)
        if req is not None:
            svc.approvals.transition(req.id, "open", "cancelled")
        store(svc).update(row.num, error=f"cancelled by <@{actor}>"
                                         + (f": {reason}" if reason else ""))
        svc.audit.append(actor, "rollback.cancelled", row.id, {"reason": reason})
        for step in fresh(svc, row).record.steps:
            if step.status == "running":
                record_step(svc, row, step.name, "skipped", f"cancelled by <@{actor}>")
        say(svc, row, f"{row.id} cancelled by <@{actor}>: {reason or 'no reason given'}")
        row = refresh(svc, row)
    drop_dry_run(svc, row, f"rollback {row.id} cancelled")
    paging.resolve(svc, row, f"cancelled by {actor}: {reason or 'no reason given'}")
    return row


def retry(svc: Services, row: RollbackRow, actor: str) -> RollbackRow:
    """Resume a stopped rollback at the step it failed (a new dry-run for a Config one)."""
    if row.status != "failed":
        raise Refused(f"{row.id} is {row.status}; only a stopped (failed) rollback is retried")
    gap = approval_gap(svc, row)
    if gap:
        raise Refused(f"{row.id} cannot be retried: {gap}")
    step = row.record.failed_step
    config_plan = row.kind == "config" and step in ("Plan", "Execute")
    with svc.db.tx():
        if not svc.actions.move(KIND, row.id, "awaiting-approval" if config_plan else
                                "executing", only_from=("failed",)):
            raise Refused(f"{row.id} moved meanwhile; check `/rollback status {row.id}`")
        e = svc.audit.append(actor, "rollback.retry", row.id, {"step": step})
        entry = Retry(by=actor, at=iso(svc.clock.now()), step=step, audit_seq=e.seq)
        store(svc).modify(row.num, lambda rec: rec.retries.append(entry))
        say(svc, row, f"<@{actor}> retries {row.id} from {step}")
        refresh(svc, row)
    if config_plan:
        drop_dry_run(svc, row, f"rollback {row.id} retried with a new dry-run")
        if plan_config(svc, fresh(svc, row)):
            schedule_escalation(svc, row)
        return refresh(svc, row)
    row = fresh(svc, row)
    if step and step.startswith("Verify"):
        return verify(svc, row, actor)
    return execute(svc, row.num, actor)


def abort(svc: Services, row: RollbackRow, actor: str, reason: str) -> RollbackRow:
    """Give up a stopped rollback; the product lock stays until resolved."""
    with svc.db.tx():
        if not svc.actions.move(KIND, row.id, "aborted", only_from=("failed",)):
            raise Refused(f"{row.id} is {row.status}; only a stopped (failed) rollback is "
                          "aborted" + ("; use /rollback cancel before it executes"
                                       if row.status in ("awaiting-approval", "scheduled")
                                       else ""))
        svc.audit.append(actor, "rollback.aborted", row.id, {"reason": reason,
                                                             "step": row.record.failed_step})
        locked = svc.locks.frozen(row.product)
        note = (f" {row.product} stays locked until `/rollback resolve {row.id} REASON`."
                if locked and locked.ref == row.id else "")
        # the stop was announced in the channel (and paged on-call): so is giving up
        announce(svc, row, f":heavy_minus_sign: <@{actor}> aborted {row.id} ({row.product}): "
                           f"{reason.rstrip('.')}.{note}")
        row = refresh(svc, row)
    drop_dry_run(svc, row, f"rollback {row.id} aborted")
    return row


_RESOLVE_HINT = {"failed": "retry it or `/rollback abort {id} REASON` first",
                 "executing": "wait until it finishes",
                 "awaiting-approval": "nothing ran and nothing is locked; "
                                      "`/rollback cancel {id}` calls it off",
                 "scheduled": "nothing ran yet and nothing is locked; "
                              "`/rollback cancel {id}` calls it off"}


def resolve(svc: Services, row: RollbackRow, actor: str, reason: str) -> RollbackRow:
    """Lift the product lock (release managers), once the rollback is done or aborted."""
    why = may_resolve(svc, actor)
    if why:
        raise Refused(why)
    if row.status not in ("done", "aborted", "superseded"):
        hint = _RESOLVE_HINT.get(row.status, "nothing is locked").format(id=row.id)
        raise Refused(f"{row.id} is {row.status}: {hint}")
    with svc.db.tx():
        fr = svc.locks.frozen(row.product)
        if fr is None or fr.ref != row.id:
            raise Refused(f"{row.product} is not locked by {row.id}"
                          + (f"; {fr.ref} holds its lock now: `/rollback resolve {fr.ref} "
                             "REASON`" if fr else ""))
        svc.locks.unfreeze(row.product)
        handed = _lift(svc, row, actor, reason)
        post_message(svc, f":unlock: {row.product} unlocked by <@{actor}> ({row.id}): "
                          f"{reason}. Releases and syncs are allowed again.", None, row.channel)
        row = refresh(svc, row)
    for r in [row, *handed]:  # a superseded rollback's incident closes with the lock
        paging.resolve(svc, r, f"resolved by {actor}: {reason}"
                       + (f" (with {row.id})" if r is not row else ""))
    return row


def _lift(svc: Services, row: RollbackRow, actor: str, reason: str) -> list[RollbackRow]:
    """Record the lift on ``row`` and on the rollbacks whose lock it took over (lifted with
    it); returns those."""
    at = iso(svc.clock.now())
    handed = [r for r in store(svc).done_for(row.product, ("done", "aborted", "superseded"))
              if r.record.lock and r.record.lock.handed_to == row.id
              and not r.record.lock.lifted]
    for r, why in [(row, reason)] + [(r, f"lifted with {row.id}: {reason}") for r in handed]:
        def lifted(rec: RollbackRecord, why: str = why) -> None:
            if rec.lock is not None:
                rec.lock.lifted, rec.lock.lifted_by, rec.lock.lift_reason = at, actor, why
        store(svc).modify(r.num, lifted)
        svc.audit.append(actor, "rollback.unlocked", r.id, {"product": row.product,
                                                            "reason": why})
        if r is not row:
            refresh(svc, r)
    return handed


def tick(svc: Services, row: RollbackRow, name: str, selected: set[str], user: str,
         before: set[str] | None = None) -> list[str]:
    """Apply a click on checklist ``name`` (``before`` = what the user saw); audited.
    Returns a line per change."""
    why = may_act(svc, user)
    if why:
        svc.audit.append(user, "rollback.checklist.refused", row.id, {"list": name,
                                                                       "reason": why})
        raise Refused(f"ticking the {cl.TITLES[name]} checklist is {why}")
    at = iso(svc.clock.now())
    changed: dict[str, list[str]] = {}

    def apply(rec: RollbackRecord) -> None:
        changed["ticked"], changed["unticked"] = cl.apply_ticks(rec.checklists, name, selected,
                                                                user, at, before)

    with svc.db.tx():
        store(svc).modify(row.num, apply)
        ticked, unticked = changed["ticked"], changed["unticked"]
        if not ticked and not unticked:
            return []
        e = svc.audit.append(user, "rollback.checklist", row.id, {
            "list": name, "ticked": ticked, "unticked": unticked})

        def cite(rec: RollbackRecord) -> None:
            for v in ticked:
                item = rec.checklists[name].get(v)
                if item and item.by == user and item.at == at:
                    item.audit_seq = e.seq

        store(svc).modify(row.num, cite)
    return [f"ticked {cl.LABELS[v]}" for v in ticked] + \
        [f"unticked {cl.LABELS[v]}" for v in unticked]
