"""Config rollback: the product's config sync from an earlier ref does the work."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.errors import Refused, RelbotError
from bot.rollback.message import close_unapproved, decided, mark
from bot.rollback.run import crashed, fail, lock, verify
from bot.rollback.service import product_cfg, schedule_escalation, store
from storage.rollback import KIND, RollbackRow

if TYPE_CHECKING:
    from bot.services import Services


def plan_config(svc: Services, row: RollbackRow) -> None:
    """Dry-run the product's config sync from the rollback's ref; its approval gates it."""
    from bot.sync import flow as sync_flow

    p = product_cfg(svc, row.product)
    sd = svc.config.current.sync(p.config_sync or "")
    if sd is None:
        fail(svc, row, "Plan", f"config_sync {p.config_sync!r} is not in syncs:")
        return
    ref = row.data["config_ref"]
    try:
        plan_id = sync_flow.request_sync(svc, sd, row.requester, source_ref=ref,
                                         reason=f"config rollback {row.id}",
                                         on_behalf_of=row.id)
    except (Refused, RelbotError) as exc:
        fail(svc, row, "Plan", f"config sync {sd.name} from {ref}: {exc}")
        return
    store(svc).update_data(row.num, {"sync_plan": plan_id})
    mark(svc, row, "Plan", "done", f"config sync {sd.name} from {ref}: dry-run {plan_id}")
    plan = sync_flow.store(svc).get(plan_id)
    if plan is not None and plan.status == "no-changes":
        fail(svc, row, "Plan", f"{ref} has the same config as the target: nothing to revert")
        return
    mark(svc, row, "Approve", "running", f"react on the dry-run {plan_id} (sync approval rules)")
    schedule_escalation(svc, row)


def own_sync(svc: Services, product: str, ref: str) -> bool:
    """Freeze exemption: the active Config rollback of ``product`` (``ref`` is its ID or its
    dry-run's plan ID) may sync into it even while an earlier rollback's lock holds it; the
    lock passes to it when the sync applies."""
    row = store(svc).active_for(product)
    return row is not None and row.kind == "config" and ref in (row.id, row.data.get("sync_plan"))


def drop_dry_run(svc: Services, row: RollbackRow, why: str) -> None:
    """Cancel the rollback's config-sync dry-run if it is still waiting (so no stray approval
    can apply it later)."""
    from bot.sync import flow as sync_flow

    plan_id = row.data.get("sync_plan")
    if plan_id and sync_flow.move(svc, plan_id, "cancelled", why, only_from=("planned",)):
        sreq = svc.approvals.for_subject("sync", plan_id)
        if sreq is not None:
            svc.approvals.transition(sreq.id, "open", "cancelled")
        svc.audit.append("relbot", "sync.cancelled", plan_id, {"reason": why})
        sync_flow.refresh_message(svc, plan_id)  # the dry-run no longer invites approvals


def on_sync_finished(svc: Services, plan_id: str, result: str, error: str) -> None:
    """Sync hook: a config rollback's sync ran, failed, expired or was cancelled."""
    row = next((r for r in store(svc).active()
                if r.kind == "config" and r.data.get("sync_plan") == plan_id), None)
    if row is None or row.status != "awaiting-approval":
        return
    if result in ("expired", "cancelled"):
        close_unapproved(svc, row, result, f"config sync dry-run {plan_id} {result}"
                         + (f": {error}" if error else ""),
                         f"dry-run {plan_id} {result}; nothing ran", {"sync_plan": plan_id})
        return
    if not svc.actions.move(KIND, row.id, "executing", only_from=("awaiting-approval",)):
        return
    try:
        _applied(svc, row, plan_id, result, error)
    except Exception as exc:  # noqa: BLE001 - never leave a rollback stuck in executing
        crashed(svc, row.num, exc)


def _applied(svc: Services, row: RollbackRow, plan_id: str, result: str, error: str) -> None:
    req = svc.approvals.for_subject("sync", plan_id)
    votes = svc.approvals.state(req).approved_by if req else ()
    store(svc).update_data(row.num, {"approvals": [v.record() for v in votes]})
    if not store(svc).get(row.num).data.get("decided"):  # type: ignore[union-attr]
        decided(svc, row, "relbot", "Approve", f"dry-run {plan_id} approved")
        mark(svc, row, "Schedule", "skipped", "the sync executes on approval")
    run = {"name": "config sync", "sync_plan": plan_id, "result": result, "error": error}
    from bot.sync import flow as sync_flow

    [log, *_] = sync_flow.store(svc).logs(plan_id, 1) or [None]
    if log is not None:  # the sync's own record: which commit each target moved from and to
        run.update(sync_log=log["id"], targets=[
            {k: t.get(k) for k in ("repo", "branch", "sha_before", "sha_after")}
            for t in log.get("targets", [])])
    e = svc.audit.append("relbot", "rollback.command", row.id, run)
    store(svc).modify(row.num, lambda data: data.setdefault("commands", []).append(
        {**run, "audit_seq": e.seq}))
    if result != "success":
        fail(svc, row, "Execute", f"config sync {plan_id} {result}: {error}")
        return
    lock(svc, row, "relbot")
    mark(svc, row, "Execute", "done", f"config sync {plan_id} applied")
    verify(svc, store(svc).get(row.num), "relbot")  # type: ignore[arg-type]
