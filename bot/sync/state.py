"""A sync plan's state: its store, its action (kind ``sync``) and the one way it moves.

A plan is the action ``sync:<plan id>`` (digest = the plan's); its status lives only in
``actions`` and changes only through :func:`move`. A move and what it decides -- the plan's
own writes, the audit entry, the messages (the outbox joins the transaction), the jobs --
commit together inside one ``with svc.db.tx():``; Slack hears of it afterwards.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.actions.record import Action
from bot.rollback import configchild
from bot.sync.outcome import Outcome
from storage.sync import SyncStore

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

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


def parent_of(svc: Services, plan_id: str) -> Action | None:
    """The action that started plan ``plan_id`` (a Config rollback), if any."""
    action = svc.actions.get(KIND, plan_id)
    return svc.actions.parent(action) if action is not None else None


def notify_finished(svc: Services, plan_id: str, result: str, error: str = "") -> None:
    """After an execution attempt, expiry or cancel, once committed (the parent runs its own
    transactions): a plan whose parent is a rollback (a Config rollback's sync) tells it
    through :func:`bot.rollback.configchild.child_finished`; its fault never breaks the sync."""
    parent = parent_of(svc, plan_id)
    if parent is None or parent.kind != configchild.KIND:
        return
    try:
        configchild.child_finished(svc, parent, plan_id, result, error)
    except Exception:
        log.exception("rollback %s could not take the result of its sync %s", parent.subject,
                      plan_id)
