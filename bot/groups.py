"""Who is who: Slack user-group handles resolved to members, cached with a TTL.

``@release-managers`` in config is a Slack user group: its ID comes from
``usergroups.list`` and its members from ``usergroups.users.list`` (which takes the ID).
The lookups are injected, so this module stays free of Slack imports.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from bot.clock import Clock

log = logging.getLogger(__name__)

ListGroups = Callable[[], dict[str, str]]          # handle -> group id
ListMembers = Callable[[str], list[str]]           # group id -> user ids


class GroupResolver:
    """Resolve ``@handle`` principals to member user IDs, caching results for ``ttl``."""

    def __init__(self, list_groups: ListGroups, list_members: ListMembers, clock: Clock,
                 ttl: timedelta = timedelta(minutes=5)) -> None:
        self._list_groups, self._list_members = list_groups, list_members
        self.clock, self.ttl = clock, ttl
        self._ids: tuple[datetime, dict[str, str]] | None = None
        self._members: dict[str, tuple[datetime, set[str]]] = {}
        self._lock = threading.Lock()

    def _fresh(self, at: datetime) -> bool:
        return self.clock.now() - at < self.ttl

    def group_id(self, handle: str) -> str | None:
        handle = handle.lstrip("@")
        with self._lock:
            if self._ids is None or not self._fresh(self._ids[0]):
                self._ids = (self.clock.now(), self._list_groups())
            return self._ids[1].get(handle)

    def members(self, handle: str) -> set[str]:
        """Members of ``@handle`` (empty when the group does not exist or lookup failed)."""
        handle = handle.lstrip("@")
        with self._lock:
            cached = self._members.get(handle)
            if cached and self._fresh(cached[0]):
                return cached[1]
        try:
            gid = self.group_id(handle)
            users = set(self._list_members(gid)) if gid else set()
        except Exception as exc:  # a Slack outage must not crash a vote; it just doesn't count
            log.warning("cannot resolve user group @%s: %s", handle, exc)
            return set()
        with self._lock:
            self._members[handle] = (self.clock.now(), users)
        return users

    def allowed(self, user: str, principals: Iterable[str] | None) -> bool:
        """True when ``principals`` is None (anyone) or ``user`` is listed or a group member."""
        if principals is None:
            return True
        for p in principals:
            if p == user or (p.startswith("@") and user in self.members(p)):
                return True
        return False

    def invalidate(self) -> None:
        with self._lock:
            self._ids = None
            self._members.clear()


def describe(principals: Iterable[str] | None) -> str:
    """``U0ALICE, U0BOB or @release-managers`` with mentions for user IDs (None: anyone)."""
    names = [p if p.startswith("@") else f"<@{p}>" for p in principals or ()]
    if not names:
        return "anyone"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
