"""The approval kinds: which feature follows the votes on each kind of approval request.

One static table (:data:`APPROVAL_KINDS`), the way ``handlers/__init__.py``'s ``COMMANDS`` is
one table: :func:`bot.services.build_services` hands it to :class:`bot.approvals.Approvals`,
and no feature registers anything at start-up. A new kind of gated action adds its row here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from bot.lazy import later

if TYPE_CHECKING:
    from bot.approvalstate import ApprovalState
    from bot.services import Services


class ApprovalFollower(Protocol):
    """Told after every counted or revoked vote on a request of its kind (and when
    reconciling with Slack changed its votes): re-render the message, approve at quorum,
    execute or schedule."""

    def __call__(self, svc: Services, state: ApprovalState) -> None: ...


APPROVAL_KINDS: Mapping[str, ApprovalFollower] = MappingProxyType({
    # imported at the first vote of the kind (bot/lazy.py), not when relbot starts
    "sync": later("bot.sync.run", "on_change"),            # a plan's quorum runs it
    "rollback": later("bot.rollback.flow", "on_approval"),  # RB-PLN's approval
})
"""Approval kind (``approvals.open(kind=...)``) -> the follower of its votes."""
