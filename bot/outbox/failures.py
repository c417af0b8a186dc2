"""Permanent delivery failures (``channel_not_found``, ``not_in_channel``, ``is_archived``,
``msg_too_long``...): the row fails, and so do the updates and thread replies of a message
that was never posted; a refused file posts its fallback texts in its place. Each failed row
gets one ``outbox.failed`` audit entry (method, channel, error, the row; the message key as
its subject; never the text), counted by ``relbot_outbox_failed`` in ``/metrics``, listed and
retried with ``relbot outbox list|retry``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from bot.clock import Clock, iso
from bot.outbox.transport import METHOD
from storage.outbox import OpRow, OutboxStore

PostFn = Callable[[str, str, "list[dict] | None", "str | None"], str]
"""Queue a post: (channel, text, blocks, thread key) -> its key."""


class Auditor(Protocol):
    """Where failures are recorded (``svc.audit``)."""

    def append(self, actor: Any, action: Any, subject: Any = "",
               payload: dict[str, Any] | None = None) -> object:
        """Append one audit entry."""
        ...


class Failures:
    """Records permanent failures in one transaction with their audit entries."""

    def __init__(self, store: OutboxStore, clock: Clock, audit: Auditor | None,
                 post: PostFn) -> None:
        self.store, self.clock, self.audit, self._post = store, clock, audit, post

    def record(self, op: OpRow, error: str) -> None:
        """``op`` failed for good with Slack's ``error``: fail it and what depended on it,
        post a refused file's fallback, audit each failed row."""
        now = iso(self.clock.now())
        with self.store.db.tx():
            self.store.failed(op.id, error, now)
            self._audited(op.key, METHOD[op.op], op.channel, error, op.id)
            if op.op == "file":   # what to post instead, in the same place
                for i, text in enumerate(op.blocks or ()):   # the thread by its key
                    self._post(op.channel, str(text).replace("{error}", error) if i == 0
                               else str(text), None, op.thread_key)
            self.orphans()

    def orphans(self) -> int:
        """Fail (and audit) the updates and replies of messages whose post failed for good;
        returns how many."""
        with self.store.db.tx():
            failed = self.store.fail_orphans(iso(self.clock.now()))
            for o in failed:
                self._audited(o.key, METHOD[o.op], o.channel, o.error or "", o.id)
        return len(failed)

    def _audited(self, key: str, method: str, channel: str, error: str, row: int) -> None:
        if self.audit is not None:
            self.audit.append("relbot", "outbox.failed", key, {
                "method": method, "channel": channel, "error": error, "row": row})
