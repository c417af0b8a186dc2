"""A rollback's step records: each step change is written to the record and audited
(``rollback.step``, with its timestamp) in one transaction. The message is refreshed by the
caller (``bot.rollback.message.refresh``) in the same transaction as the move it decides."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.clock import iso
from bot.rollback.lookup import config, store
from bot.rollback.record import RollbackRecord, elapsed
from storage.rollback import RollbackRow

if TYPE_CHECKING:
    from bot.services import Services


def record_step(svc: Services, row: RollbackRow, step: str, status: str, note: str = "",
                actor: str = "relbot", **detail: Any) -> None:
    """Record step ``step`` as ``status`` (audited with its timestamp); joins the caller's
    transaction."""
    at = iso(svc.clock.now())

    def change(rec: RollbackRecord) -> None:
        s = rec.step(step)
        if s is not None:
            s.status, s.at, s.note = status, at, note
            if status == "running" or not s.started:
                s.started = at

    with svc.db.tx():
        svc.audit.append(actor, "rollback.step", row.id, {"step": step, "status": status,
                                                          "at": at, "note": note, **detail})
        store(svc).modify(row.num, change)


def decided(svc: Services, row: RollbackRow, actor: str, step: str, note: str,
            status: str = "done") -> None:
    """Record the decision: time from declaration (audited against the escalation limit);
    the escalation job is no longer needed."""
    now = iso(svc.clock.now())
    took = elapsed(row.declared, now)
    secs = int(took.total_seconds()) if took else 0
    with svc.db.tx():
        store(svc).update(row.num, decided=now, decision_seconds=secs)
        svc.audit.append(actor, "rollback.decided", row.id, {
            "cell": row.record.cell.model_dump(), "matrix": row.record.cell_name,
            "seconds": secs,
            "within_limit": secs <= config(svc).escalate_after.total_seconds()})
        record_step(svc, row, step, status, f"{note} (decided {secs // 60}m{secs % 60:02d}s "
                                            "after declaration)")
        svc.scheduler.remove(f"rollback-escalate:{row.id}")
