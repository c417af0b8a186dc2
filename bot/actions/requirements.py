"""The requirements every gated action draws from; each returns a :class:`Verdict`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.actions.gates import APPROVAL, CHECKS, FRESH, LEASE, NOT_FROZEN, WINDOW, Verdict
from bot.actions.record import Action
from bot.approvals import ApprovalState
from storage.locks import Freeze, Lease


def approval_policy(state: ApprovalState | None, *, missing: str = "it has no approval "
                    "request") -> Verdict:
    """Quorum of distinct authorised approvers, within the approval window."""
    if state is None:
        return Verdict(APPROVAL, False, missing)
    ok = state.reached and state.request.status in ("open", "approved")
    who = "anyone of the approvers can clear it by reacting" if state.needed and \
        not state.expired else ""
    return Verdict(APPROVAL, ok, state.needs_text(), who_can_clear=who)


def not_frozen(freeze: Freeze | None, product: str, *, exempt: bool = False,
               hint: str = "") -> Verdict:
    """No rollback lock holds the product (or this action is the lock holder's own)."""
    if freeze is None or exempt:
        return Verdict(NOT_FROZEN, True, f"{product or 'the target'} is not locked")
    return Verdict(NOT_FROZEN, False, freeze.describe(),
                   refusal=f"{freeze.describe()}. Syncs into {product} are refused until "
                           f"then.{hint}")


def holds_rollback_slot(parent: Action | None, product: str | None) -> bool:
    """``parent`` is the active rollback holding ``product``'s slot (``rollback:<product>``):
    the child it started (a Config rollback's sync) may go into the product it has frozen."""
    return (parent is not None and parent.kind == "rollback" and parent.active
            and bool(product) and parent.exclusive == f"rollback:{product}")


def plan_fresh(stale: str | None, replan: str) -> Verdict:
    """Source and target are where the dry-run saw them."""
    if stale:
        return Verdict(FRESH, False, f"{stale} - run {replan}",
                       refusal=f"{stale}. Approvals do not carry over: run `{replan}` for a "
                               "new dry-run")
    return Verdict(FRESH, True, "source and target unchanged since the dry-run")


def lease_free(lease: Lease | None, what: str) -> Verdict:
    """Nobody else is executing on ``what``."""
    if lease is None:
        return Verdict(LEASE, True, "free")
    return Verdict(LEASE, False, f"held by {lease.holder} since {lease.acquired} (expires "
                                 f"{lease.expires})",
                   refusal=f"another sync is running on {what}: held by {lease.holder} since "
                           f"{lease.acquired}")


def window_reached(window: datetime | None, now: datetime, shown: str = "") -> Verdict:
    """A planned action runs at its window, not before."""
    if window is None or now >= window:
        return Verdict(WINDOW, True, "no window" if window is None else f"reached ({shown})")
    return Verdict(WINDOW, False, f"runs at {shown or window.isoformat()}")


def checks_pass(failing: Sequence[str], commit: str, *, refusal: str = "") -> Verdict:
    """The checks gating this step hold on ``commit`` (a release's candidate); ``failing``
    says, one line each, which do not, why and who can clear them."""
    if not failing:
        return Verdict(CHECKS, True, f"every gating check holds on {commit[:7]}")
    return Verdict(CHECKS, False, "; ".join(failing), refusal=refusal)
