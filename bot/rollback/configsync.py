"""Config rollback, the rollback's side: plan the product's config sync from an earlier ref
(its dry-run and approval gate the rollback), or drop that dry-run when the rollback ends.
What happens when the sync finishes is :mod:`bot.rollback.configchild`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.errors import Refused, RelbotError
from bot.rollback.lookup import product_cfg, store
from bot.rollback.message import refresh
from bot.rollback.outcome import fail
from bot.rollback.steps import record_step
from bot.sync import flow as sync_flow
from storage.rollback import KIND, RollbackRow

if TYPE_CHECKING:
    from bot.services import Services


def plan_config(svc: Services, row: RollbackRow) -> bool:
    """Dry-run the product's config sync from the rollback's ref; its approval gates it.
    False when the rollback stopped at Plan instead."""
    p = product_cfg(svc, row.product)
    sd = svc.config.current.sync(p.config_sync or "")
    if sd is None:
        fail(svc, row, "Plan", f"config_sync {p.config_sync!r} is not in syncs:")
        return False
    ref = row.record.config_ref
    try:  # git work: outside any transaction
        plan_id = sync_flow.request_sync(svc, sd, row.requester, source_ref=ref,
                                         reason=f"config rollback {row.id}",
                                         parent=svc.actions.get(KIND, row.id))
    except (Refused, RelbotError) as exc:
        fail(svc, row, "Plan", f"config sync {sd.name} from {ref}: {exc}")
        return False
    plan = svc.syncs.get(plan_id)
    empty = plan is not None and plan.status == "no-changes"
    with svc.db.tx():
        store(svc).update(row.num, sync_plan=plan_id)
        record_step(svc, row, "Plan", "done", f"config sync {sd.name} from {ref}: dry-run "
                                              f"{plan_id}")
        if not empty:
            record_step(svc, row, "Approve", "running",
                        f"react on the dry-run {plan_id} (sync approval rules)")
        refresh(svc, row)
    if empty:
        fail(svc, row, "Plan", f"{ref} has the same config as the target: nothing to revert")
        return False
    return True


def drop_dry_run(svc: Services, row: RollbackRow, why: str) -> None:
    """Cancel the rollback's config-sync dry-run if it is still waiting (so no stray approval
    can apply it later). Call it after the rollback's own move has committed: it refreshes
    the sync's message under that message's rendering lock."""
    plan_id = (store(svc).get(row.num) or row).record.sync_plan
    if plan_id:  # in one transaction with its approval, audit entry and message
        sync_flow.cancel(svc, plan_id, "relbot", why, {"reason": why}, notify=False)


def adopt_dry_runs(svc: Services) -> None:
    """At start-up: a Config rollback's dry-run planned before syncs had parents becomes its
    child (so it is still let into the product and the rollback still hears its result)."""
    for row in store(svc).active():
        plan_id = row.record.sync_plan if row.kind == "config" else None
        child = svc.actions.get("sync", plan_id) if plan_id else None
        parent = svc.actions.get(KIND, row.id)
        if child is not None and child.parent is None and parent is not None:
            svc.actions.adopt("sync", child.subject, parent)
