"""Config rollback, the sync's side: the sync a Config rollback started is its child action;
when it finishes (applied, failed, expired or cancelled) the sync flow calls
:func:`child_finished` with the parent, and the rollback goes on or ends accordingly."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.rollback.lookup import fresh, store
from bot.rollback.message import refresh
from bot.rollback.outcome import close_unapproved, crashed, fail, lock
from bot.rollback.record import Approval, RollbackRecord, SyncRun, SyncTarget
from bot.rollback.run import verify
from bot.rollback.steps import decided, record_step
from storage.rollback import KIND, RollbackRow, parse_id

if TYPE_CHECKING:
    from bot.actions.record import Action
    from bot.services import Services

__all__ = ["KIND", "child_finished"]


def child_finished(svc: Services, parent: Action, plan_id: str, result: str,
                   error: str) -> None:
    """The sync ``plan_id`` that rollback ``parent`` started ran, failed, expired or was
    cancelled (``bot.sync.flow`` calls this for a sync whose parent is a rollback)."""
    row = store(svc).get(parse_id(parent.subject) or 0)
    if row is None or row.status != "awaiting-approval" or row.record.sync_plan != plan_id:
        return  # an earlier dry-run of a retried rollback, or it moved on meanwhile
    if result in ("expired", "cancelled"):
        close_unapproved(svc, row, result, f"config sync dry-run {plan_id} {result}"
                         + (f": {error}" if error else ""),
                         f"dry-run {plan_id} {result}; nothing ran", {"sync_plan": plan_id})
        return
    try:
        if not _ran(svc, row, plan_id, result, error):
            return
    except Exception as exc:  # noqa: BLE001 - never leave a rollback stuck in executing
        crashed(svc, row.num, exc)
        return
    try:
        _applied(svc, row, plan_id, result, error)
    except Exception as exc:  # noqa: BLE001 - never leave a rollback stuck in executing
        crashed(svc, row.num, exc)


def _sync_run(svc: Services, plan_id: str, result: str, error: str) -> SyncRun:
    """The execute step's entry: the sync's result and, from its log, which commit each
    target moved from and to."""
    run = SyncRun(sync_plan=plan_id, result=result, error=error)
    [log, *_] = svc.syncs.logs(plan_id, 1) or [None]
    if log is not None:
        run.sync_log = log["id"]
        run.targets = [SyncTarget(**{k: t.get(k) for k in SyncTarget.model_fields})
                       for t in log.get("targets", [])]
    return run


def _ran(svc: Services, row: RollbackRow, plan_id: str, result: str, error: str) -> bool:
    """Claim the rollback (awaiting-approval -> executing) and record the approval and the
    sync run in the same transaction; False when it had moved on."""
    req = svc.approvals.for_subject("sync", plan_id)
    votes = svc.approvals.state(req).approved_by if req else ()
    run = _sync_run(svc, plan_id, result, error)
    with svc.db.tx():
        if not svc.actions.move(KIND, row.id, "executing", only_from=("awaiting-approval",)):
            return False
        store(svc).update(row.num, approvals=[Approval(**v.record()) for v in votes])
        if not fresh(svc, row).record.decided:
            decided(svc, row, "relbot", "Approve", f"dry-run {plan_id} approved")
            record_step(svc, row, "Schedule", "skipped", "the sync executes on approval")
        e = svc.audit.append("relbot", "rollback.command", row.id, run.payload())
        run.audit_seq = e.seq

        def cite(rec: RollbackRecord) -> None:
            rec.commands.append(run)

        store(svc).modify(row.num, cite)
        refresh(svc, row)
    return True


def _applied(svc: Services, row: RollbackRow, plan_id: str, result: str, error: str) -> None:
    if result != "success":
        fail(svc, row, "Execute", f"config sync {plan_id} {result}: {error}")
        return
    with svc.db.tx():
        lock(svc, row, "relbot")
        record_step(svc, row, "Execute", "done", f"config sync {plan_id} applied")
        refresh(svc, row)
    verify(svc, store(svc).get(row.num), "relbot")  # type: ignore[arg-type]
