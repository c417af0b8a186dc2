"""A rollback's requirements as verdicts: what ``/rollback status`` explains and what
execution and retry refuse on (:func:`bot.rollback.run.approval_gap`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from bot.actions import Verdict, requirements
from storage.rollback import RollbackRow

if TYPE_CHECKING:
    from bot.services import Services


def needs_approval(row: RollbackRow) -> bool:
    """An RB-PLN whose matrix cell needs approvals and whose execution has not started (a
    Config rollback's approval is its dry-run's, a sync gate)."""
    if row.procedure != "RB-PLN" or row.kind == "config" or not row.record.cell.approvals:
        return False
    return row.record.step_status("Execute") in (None, "pending")


def approval(svc: Services, row: RollbackRow) -> Verdict:
    """The "approval policy" requirement: approved on the rollback message, quorum held."""
    req = svc.approvals.for_subject("rollback", row.id)
    if req is None:
        return requirements.approval_policy(None)
    state = svc.approvals.state(req)
    v = requirements.approval_policy(state)
    ok = req.status == "approved" and state.reached
    return replace(v, ok=ok, refusal="" if ok else f"it is not approved ({state.needs_text()})")


def verdicts(svc: Services, row: RollbackRow) -> list[tuple[str, Verdict]]:
    """Every requirement still ahead of a rollback that has not started executing."""
    if row.status not in ("awaiting-approval", "scheduled"):
        return []
    out: list[tuple[str, Verdict]] = []
    if needs_approval(row):
        out.append(("approval", approval(svc, row)))
    window = row.record.window
    if window:
        out.append(("window", requirements.window_reached(
            datetime.fromisoformat(window), svc.clock.now(), window)))
    return out
