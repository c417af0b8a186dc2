"""Who may steer a rollback (tick checklists, cancel, retry...) and who may lift its lock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.groups import describe
from bot.rollback.lookup import config

if TYPE_CHECKING:
    from bot.services import Services


def may_act(svc: Services, user: str) -> str | None:
    """Why ``user`` may not tick checklists or steer a rollback (None when allowed)."""
    perms = svc.config.current.permissions.rollback
    oncall = config(svc).oncall
    if svc.groups.allowed(user, perms) or (oncall and svc.groups.allowed(user, oncall)):
        return None
    return f"limited to {describe(tuple(dict.fromkeys(tuple(perms or ()) + tuple(oncall))))}"


def may_resolve(svc: Services, user: str) -> str | None:
    """Release managers lift locks: users in ``permissions.rollback`` or ``permissions.release``
    (anyone when neither is set). None when allowed, else why not."""
    perms = svc.config.current.permissions
    lists = [p for p in (perms.rollback, perms.release) if p is not None]
    if not lists or any(svc.groups.allowed(user, p) for p in lists):
        return None
    who = tuple(dict.fromkeys(x for p in lists for x in p))
    return f"lifting a rollback lock is limited to {describe(who)}"
