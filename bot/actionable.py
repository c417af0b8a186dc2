"""What one person can act on now (App Home): approvals they may give, checks they may
confirm, rollbacks waiting on their approval. Pure reads over the stores; no Slack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot import lazy

if TYPE_CHECKING:
    from bot.release import checks as ck
    from bot.services import Services
else:
    ck = lazy.module("bot.release.checks")  # the release checks, at the first home tab

MANUAL = "manual"


@dataclass(frozen=True)
class Actionable:
    """One thing ``user`` can do now, with the value its button carries."""

    kind: str           # "approve" (a sync plan or a rollback) or "confirm" (a release check)
    text: str           # the line shown beside the button
    value: str          # approval request id, or "RELEASE_ID:CHECK"
    what: str           # what pressing it does, for the confirm dialog


def _may_approve(svc: Services, req: Any, user: str) -> bool:
    if user == req.requester and not req.policy.get("allow_self_approval"):
        return False
    if any(v.user == user for v in svc.approvals.store.votes(req.id)):
        return False
    return bool(svc.groups.allowed(user, req.policy.get("approvers") or None))


def approvals_for(svc: Services, user: str) -> list[Actionable]:
    """Open requests still in their window that ``user`` may approve, rollbacks first."""
    from bot.clock import iso

    now = iso(svc.clock.now())
    out = []
    for req in sorted(svc.approvals.store.open_requests(), key=lambda r: r.kind != "rollback"):
        if now >= req.expires or not _may_approve(svc, req, user):
            continue
        st = svc.approvals.state(req)
        what = ("rollback" if req.kind == "rollback" else f"{req.kind} plan") + \
            f" {req.subject} (evidence {req.evidence_id}, digest {req.digest[:12]})"
        out.append(Actionable("approve", f"{what} requested by <@{req.requester}>: "
                                         f"{st.needs_text()}", req.id, what))
    return out


def checks_for(svc: Services, user: str) -> list[Actionable]:
    """Pending checks of active releases that ``user`` may confirm with a button."""
    from bot.release import service as rs
    from storage.cadence import active_releases

    out = []
    for r in active_releases(svc.db):
        row = rs.store(svc).get(int(r["id"]))
        if row is None or row.status != "active":
            continue
        p = rs.product(svc, row.product)
        for cid, c in row.checks.items():
            if c.result in ck.DONE or ck.mode(p, cid) != MANUAL:
                continue
            if rs.may_confirm(svc, row, cid, user) is not None:
                continue
            what = f"{cid} {ck.NAMES[cid]} of {row.product} {row.version}"
            gates = " (blocks the next step)" if cid in ck.gating(row.step) else ""
            out.append(Actionable("confirm", f"{what}: {c.result}{gates}",
                                  f"{row.id}:{cid}", what))
    return out


def for_user(svc: Services, user: str) -> list[Actionable]:
    """Everything ``user`` can act on now."""
    return approvals_for(svc, user) + checks_for(svc, user)
