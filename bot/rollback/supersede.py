"""An immediate rollback supersedes a stopped one of the same product.

A rollback that failed (stopped for a human: e.g. a Config rollback whose tag is missing)
would otherwise block every later rollback of its product until someone aborts it, even a
``sev=1 impact=widespread`` one. When the new request's matrix cell is ``immediate``, the
stopped one is closed as ``superseded`` (audited, its config dry-run dropped); its product
lock, if it took one, stays and passes to the new rollback when that one locks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.rollback.configsync import drop_dry_run
from bot.rollback.lookup import store
from bot.rollback.message import announce, refresh
from storage.rollback import KIND, RollbackRow

if TYPE_CHECKING:
    from bot.services import Services


def supersede(svc: Services, product: str, actor: str, cell_name: str) -> RollbackRow | None:
    """Close the product's stopped (failed) rollback as superseded; returns it, or None when
    there is none (or another caller closed it first)."""
    old = store(svc).active_for(product)
    if old is None or old.status != "failed":
        return None
    with svc.db.tx():
        if not svc.actions.move(KIND, old.id, "superseded", only_from=("failed",)):
            return None
        locked = svc.locks.frozen(product)
        svc.audit.append(actor, "rollback.superseded", old.id, {
            "product": product, "step": old.record.failed_step, "cell": cell_name,
            "lock_kept": bool(locked and locked.ref == old.id)})
    drop_dry_run(svc, old, f"rollback {old.id} superseded")
    return old


def record(svc: Services, old: RollbackRow, new: RollbackRow, actor: str) -> None:
    """Name the superseding rollback on the old record, its message and the channel (joins
    the caller's transaction)."""
    with svc.db.tx():
        store(svc).update(old.num, superseded_by=new.id, error=f"superseded by {new.id}")
        locked = svc.locks.frozen(old.product)
        note = (f" {old.product} stays locked ({old.id}'s lock passes to {new.id})."
                if locked and locked.ref == old.id else "")
        announce(svc, old, f":arrow_right_hook: <@{actor}>'s immediate rollback {new.id} "
                           f"supersedes the stopped {old.id} ({old.product}).{note}")
        refresh(svc, old)
