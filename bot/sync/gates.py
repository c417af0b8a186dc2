"""A sync's requirements (:mod:`bot.actions.requirements`): the verdicts ``/sync status``
shows and execution refuses on."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from bot.actions import Gate, Verdict, requirements
from bot.actions.record import Action
from bot.errors import AlreadyRunning, Refused
from bot.sync.close import expire_job
from bot.sync.config import SyncDef
from bot.sync.execute import stale_reason
from bot.sync.plan import Plan
from bot.sync.state import KIND, parent_of, target_key
from storage.approvals import RequestRow
from storage.sync import PlanRow

if TYPE_CHECKING:
    from bot.services import Services


def not_frozen(svc: Services, sd: SyncDef, parent: Action | None = None,
               hint: str = "") -> Verdict:
    """The "product not frozen" requirement of a sync (started by ``parent``): a sync whose
    parent is the rollback holding the product's slot is let in (its Config rollback)."""
    fr = svc.locks.frozen(sd.product) if sd.product else None
    return requirements.not_frozen(fr, sd.product or "", hint=hint,
                                   exempt=requirements.holds_rollback_slot(parent, sd.product))


def freeze_check(svc: Services, sd: SyncDef, parent: Action | None = None,
                 hint: str = "") -> None:
    """Refuse while the sync's product is frozen (unless ``parent`` holds it)."""
    Gate([lambda: not_frozen(svc, sd, parent, hint)]).enforce()


def approval(svc: Services, row: PlanRow, confirm: bool = False
             ) -> tuple[Verdict, RequestRow | None]:
    """The plan's "approval policy" requirement (and its request); ``confirm``: first
    reconcile the votes with the reactions Slack shows (before executing)."""
    req = svc.approvals.for_subject(KIND, row.id)
    state = None
    if req is not None:
        state = (svc.approvals.confirm(req, notify=True) if confirm
                 else svc.approvals.state(req))
    v = requirements.approval_policy(state, missing=f"{row.id} has no approval request")
    if req is not None and state is not None and state.expired:
        v = replace(v, refusal=f"{row.id}: approval expired at {req.expires}; run "
                               f"`/sync plan {row.sync}`")
    elif state is not None:
        v = replace(v, refusal=f"{row.id}: {v.text}")
    return v, req


def gate_verdicts(svc: Services, row: PlanRow) -> list[tuple[str, Verdict]]:
    """Every requirement of a planned sync, labelled as ``/sync status`` shows them: the same
    verdicts execution refuses on."""
    sd = svc.config.current.sync(row.sync)
    plan = Plan.model_validate(row.plan)
    out = [("approval", approval(svc, row)[0])]
    if sd is not None and sd.product:
        out.append(("freeze", not_frozen(svc, sd, parent_of(svc, row.id))))
    stale = stale_reason(plan, sd.source.path if sd else None)
    out.append(("freshness", requirements.plan_fresh(stale, f"/sync plan {row.sync}")))
    for t in plan.targets:
        out.append((f"lock {t.repo}", requirements.lease_free(
            svc.locks.holder(target_key(t)), f"{t.repo}#{t.branch}")))
    return out


def may_run(svc: Services, row: PlanRow, confirmed: bool) -> None:
    """The plan's status and approval before an execution (``confirmed``: the votes were
    just re-read from Slack); an approval found expired expires the plan."""
    if row.status == "running":
        raise AlreadyRunning(row.id)
    if row.status != "planned":
        raise Refused(f"{row.id} is {row.status}" + (f" ({row.note})" if row.note else ""))
    verdict, req = approval(svc, row, confirm=not confirmed)
    if verdict.ok:
        return
    if req is not None and svc.approvals.state(req).expired:
        expire_job(svc, row.id)
    raise verdict.refuse()
