"""Typed seams between features: who follows a sync, who may sync into a frozen product.

One :class:`Hooks` lives on :class:`bot.services.Services` (``svc.hooks``); features register
at start-up (``handlers/<feature>.setup``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


class SyncFollower(Protocol):
    """Told after every execution attempt, expiry or cancel of a sync plan."""

    def __call__(self, svc: Services, plan_id: str, result: str, error: str) -> None: ...


class FreezeExemption(Protocol):
    """True lets the sync planned for ``ref`` (a rollback id or a plan id) into a frozen
    ``product`` (a Config rollback's own sync)."""

    def __call__(self, svc: Services, product: str, ref: str) -> bool: ...


@dataclass
class Hooks:
    """The registered followers and exemptions (each registered once)."""

    sync_followers: list[SyncFollower] = field(default_factory=list)
    freeze_exemptions: list[FreezeExemption] = field(default_factory=list)

    def follow_syncs(self, fn: SyncFollower) -> None:
        """Register ``fn`` to hear how each sync plan ended."""
        if fn not in self.sync_followers:
            self.sync_followers.append(fn)

    def exempt_from_freeze(self, fn: FreezeExemption) -> None:
        """Register ``fn`` as a freeze exemption."""
        if fn not in self.freeze_exemptions:
            self.freeze_exemptions.append(fn)

    def exempt(self, svc: Services, product: str, ref: str | None) -> bool:
        """Does any exemption let ``ref`` into ``product``?"""
        return bool(ref) and any(h(svc, product, ref or "") for h in self.freeze_exemptions)

    def sync_finished(self, svc: Services, plan_id: str, result: str, error: str) -> None:
        """Tell every follower; a follower's fault never breaks the sync."""
        for fn in self.sync_followers:
            try:
                fn(svc, plan_id, result, error)
            except Exception:
                log.exception("sync follower failed for %s", plan_id)
