"""The outbox's queue API (``svc.outbox``, called through :mod:`bot.messages`).

``post`` / ``update`` / ``upload`` only write a row (in the caller's transaction if one is
open) and return at once: a post returns the message's *key*, which the core stores wherever
it used to store Slack's ``ts`` (records, approvals, thread parents). Inbound Slack ts (a
reaction's ``item.ts``) map back to keys with :meth:`Outbox.key_for`. Delivery is the
:class:`bot.outbox.deliverer.Deliverer`'s (started by :meth:`Outbox.start`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from bot.clock import Clock, iso
from bot.outbox.deliverer import Deliverer
from bot.outbox.failures import Auditor, Failures
from bot.outbox.order import Send
from bot.outbox.policy import TS_WAIT
from bot.outbox.transport import Delivery
from storage.outbox import OutboxStore

KEY_PREFIXES = ("m-", "f-")
"""How the keys of posts and of file uploads begin (Slack's ts never do: they are digits)."""


class Outbox:
    """Queue messages for Slack and map Slack's ts to message keys; owns the deliverer."""

    def __init__(self, store: OutboxStore, clock: Clock, delivery: Delivery | None = None,
                 audit: Auditor | None = None) -> None:
        self.store, self.clock = store, clock
        failures = Failures(store, clock, audit, self.post)
        self.deliverer = Deliverer(store, clock, delivery, self.slack_ts, failures)

    @property
    def delivery(self) -> Delivery | None:
        """The transport to Slack (None: rows stay queued for a bot that has one)."""
        return self.deliverer.delivery

    # --- queueing (called by bot.messages) -----------------------------------------------
    def post(self, channel: str, text: str, blocks: list[dict] | None,
             thread_ts: str | None = None) -> str:
        """Queue a new message; returns its key (use it as the message's ts everywhere)."""
        key = KEY_PREFIXES[0] + uuid.uuid4().hex[:16]
        thread_key = self._key_of(channel, thread_ts) if thread_ts else None
        self.store.add_post(key, channel, thread_key, text, blocks, iso(self.clock.now()))
        self.store.db.after_commit(self.kick)   # the deliverer sees the committed row
        return key

    def upload(self, channel: str, thread_ts: str | None, filename: str, content: str,
               comment: str, fallback: list[str] | None = None) -> None:
        """Queue a text file for ``channel`` (a thread: after its parent's post); if Slack
        refuses it for good, ``fallback`` is posted there instead."""
        key = KEY_PREFIXES[1] + uuid.uuid4().hex[:16]
        thread_key = self._key_of(channel, thread_ts) if thread_ts else None
        self.store.add_file(key, channel, thread_key, filename, content, comment,
                            list(fallback or ()), iso(self.clock.now()))
        self.store.db.after_commit(self.kick)   # the deliverer sees the committed row

    def update(self, channel: str, ts: str, text: str, blocks: list[dict] | None) -> None:
        """Queue an update of the message ``ts`` (a key, or a Slack ts posted earlier)."""
        key = self._key_of(channel, ts)
        self.store.add_update(key, text, blocks, iso(self.clock.now()))
        self.store.db.after_commit(self.kick)   # the deliverer sees the committed row

    # --- keys and Slack's ts -------------------------------------------------------------
    def key_for(self, channel: str, ts: str) -> str:
        """The key the core knows a Slack message by (its ts if it never went through here).

        A reaction can come the instant Slack has a post, before its delivery is recorded:
        an unknown ts while posts to ``channel`` are in flight waits (up to ``TS_WAIT``)
        for them."""
        key = self.store.key_for_ts(channel, ts)
        if key is None:
            self.deliverer.wait_posts(channel, TS_WAIT)
            key = self.store.key_for_ts(channel, ts)
        return key or ts

    def slack_ts(self, key: str) -> str | None:
        """Slack's ts for ``key`` once delivered (None while still queued)."""
        row = self.store.message(key)
        if row is None:
            return key if _looks_like_ts(key) else None
        return row.ts

    def _key_of(self, channel: str, ts: str) -> str:
        """``ts`` as a message key: a key from :meth:`post`; the Slack ts of a message this
        outbox delivered (its key); else the Slack ts of a message posted before the outbox,
        recorded as its own key. Never a second key for one Slack message."""
        if ts.startswith(KEY_PREFIXES) or self.store.message(ts) is not None:
            return ts   # a key this outbox made (a Slack ts is digits): no lookup needed
        key = self.store.key_for_ts(channel, ts)
        if key is None:
            self.store.known(channel, ts, iso(self.clock.now()))
        return key or ts

    # --- delivery (the deliverer's) ------------------------------------------------------
    def start(self) -> None:
        """Start delivering (pending rows from before a restart go first)."""
        self.deliverer.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop delivering; undelivered rows stay for the next start."""
        self.deliverer.stop(timeout)

    def kick(self) -> None:
        """Wake the delivery thread (a row was added)."""
        self.deliverer.kick()

    def deliver_once(self) -> int:
        """Start sending the rows deliverable now; returns how many were started."""
        return self.deliverer.deliver_once()

    def plan(self, now: float, *, ignore: Callable[[str], bool] = lambda m: False
             ) -> list[Send]:
        """Rows that may be sent at ``now``, in order."""
        return self.deliverer.plan(now, ignore=ignore)

    def settled(self, horizon: float = 1.0, *,
                ignore: Callable[[str], bool] = lambda m: False) -> bool:
        """Nothing in flight and nothing sendable within ``horizon`` seconds."""
        return self.deliverer.settled(horizon, ignore=ignore)

    def wait_settled(self, timeout: float = 30.0, *,
                     ignore: Callable[[str], bool] = lambda m: False) -> bool:
        """Block until :meth:`settled` (or ``timeout``); True when settled."""
        return self.deliverer.wait_settled(timeout, ignore=ignore)


def _looks_like_ts(value: str) -> bool:
    head, _, tail = value.partition(".")
    return head.isdigit() and tail.isdigit()
