"""A sync plan's state: its store, its action (kind ``sync``) and the one way it moves.

A plan is the action ``sync:<plan id>`` (digest = the plan's); its status lives only in
``actions`` and changes only through :func:`move`. A move and what it decides -- the plan's
own writes, the audit entry, the messages (the outbox joins the transaction), the jobs --
commit together inside one ``with svc.db.tx():``; Slack hears of it afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.actions.hooks import FreezeExemption, SyncFollower
from bot.sync.outcome import Outcome
from storage.sync import SyncStore

if TYPE_CHECKING:
    from bot.services import Services

KIND = "sync"
"""The action kind of a sync plan."""


def store(svc: Services) -> SyncStore:
    """The sync store (``svc.syncs``)."""
    return svc.syncs


def move(svc: Services, plan_id: str, to: str, note: str = "", *,
         only_from: tuple[str, ...] | None = None, outcomes: list[Outcome] | None = None) -> bool:
    """Move the plan's action to ``to`` (the compare-and-set of :data:`bot.actions.machine.SYNC`)
    and record ``note`` (and the per-target ``outcomes``) with it, in one transaction
    (the caller's, when one is open); True if this caller moved it."""
    with svc.db.tx():
        if not svc.actions.move(KIND, plan_id, to, only_from=only_from):
            return False
        store(svc).set_result(plan_id, note, None if outcomes is None
                              else [o.model_dump() for o in outcomes])
    return True


def target_key(t: Any) -> str:
    """The lease one execution per target holds."""
    return f"sync-target:{t.repo}#{t.branch}"


def exempt_from_freeze(svc: Services, fn: FreezeExemption) -> None:
    """Register ``fn(svc, product, ref) -> bool``: True lets the sync planned on behalf of
    ``ref`` (or the plan ``ref``) into a frozen product (a rollback's own config sync)."""
    svc.hooks.exempt_from_freeze(fn)


def on_finished(svc: Services, fn: SyncFollower) -> None:
    """Call ``fn(svc, plan_id, result, error)`` after every execution attempt, expiry or
    cancel of a plan (rollbacks use it to follow the config sync they started)."""
    svc.hooks.follow_syncs(fn)


def notify_finished(svc: Services, plan_id: str, result: str, error: str = "") -> None:
    """Tell the :func:`on_finished` followers (after the commit: a follower runs its own
    transactions); a follower's fault never breaks the sync."""
    svc.hooks.sync_finished(svc, plan_id, result, error)
