"""State first, Slack after: every channel post and update goes through a durable outbox.

``post`` / ``update`` only write a row (in the caller's transaction if one is open) and
return at once: a post returns the message's *key*, which the core stores wherever it used
to store Slack's ``ts`` (records, approvals, thread parents). A delivery thread sends the
rows to Slack in the order they were decided:

- posts are FIFO per stream (a channel, or one thread); a reply waits for its parent's post,
  an update for its message's post;
- several updates of one message coalesce into the latest (a post not yet delivered goes
  out with the latest content);
- a retryable failure (HTTP 5xx, 429, timeout, connection) is retried with exponential
  backoff, or after ``Retry-After``; a permanent one (``channel_not_found``) fails the row,
  its updates and its replies, and is logged;
- rows survive restarts (pending rows go out at start-up) and each is leased by one
  deliverer at a time, so two processes on one database never send the same row;
- one call at a time, except that a call slower than ``SLOW`` lets rows of other streams
  start beside it: a hung call holds up its own stream only.

Inbound Slack ts (a reaction's ``item.ts``) map back to keys with :meth:`Outbox.key_for`.
The delivery transport is a :class:`Delivery` (``bot.delivery.SlackDelivery`` in the app).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.clock import Clock, iso
from storage.outbox import OpRow, OutboxStore

log = logging.getLogger(__name__)

BACKOFF_BASE = 0.2    # seconds before the first retry; doubles per attempt
BACKOFF_CAP = 30.0    # never wait longer than this between attempts (unless Retry-After)
POLL = 0.5            # how often to look for rows written by another process
SLOW = 1.0            # a call in flight this long lets other streams' rows start beside it
PARALLEL = 4          # at most this many calls in flight
LEASE = 5.0           # a row being sent is held this long, renewed while its call runs,
RENEW = 1.5           # ... every this often: a killed process's rows are free in seconds
TS_WAIT = 5.0         # key_for: how long an unknown ts waits for this process's posts
METHOD = {"post": "chat.postMessage", "update": "chat.update",
          "file": "files.getUploadURLExternal"}


class DeliveryError(Exception):
    """A Slack call that did not succeed; ``retryable`` says whether to try again."""

    def __init__(self, error: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.error, self.retryable, self.retry_after = error, retryable, retry_after


class Delivery(Protocol):
    """The transport to Slack (raises :class:`DeliveryError`)."""

    timeout: float

    def post(self, channel: str, text: str, blocks: list[dict] | None,
             thread_ts: str | None) -> str:
        """chat.postMessage; returns the new message's ts."""
        ...

    def update(self, channel: str, ts: str, text: str, blocks: list[dict] | None) -> None:
        """chat.update."""
        ...

    def upload(self, channel: str, thread_ts: str | None, filename: str, content: str,
               comment: str) -> None:
        """A text file through the files v2 upload."""
        ...


def backoff(attempts: int, retry_after: float | None) -> float:
    """Seconds to wait before attempt ``attempts + 1``; Slack's ``Retry-After`` wins."""
    if retry_after is not None:
        return max(0.0, retry_after)
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempts)


@dataclass(frozen=True)
class _Send:
    op: OpRow
    text: str
    blocks: list[dict] | None
    thread_ts: str | None
    through: int          # updates of the same message with id <= this are covered


class Outbox:
    """The queue API for the core plus the delivery loop (one thread per process)."""

    def __init__(self, store: OutboxStore, clock: Clock,
                 delivery: Delivery | None = None) -> None:
        self.store, self.clock, self.delivery = store, clock, delivery
        self.owner = uuid.uuid4().hex[:12]
        self._cond = threading.Condition()
        self._inflight: dict[int, tuple[str, float, str]] = {}  # id -> method, start, channel
        self._sends = 0                        # attempts finished (settled() compares)
        self._dirty = False                    # something changed since the loop looked
        self._renewed = 0.0                    # when our leases were last renewed
        self._stop = False
        self._thread: threading.Thread | None = None
        self._serial: dict[str, threading.Lock] = {}

    # --- queueing (called by bot.messages) -----------------------------------------------
    def post(self, channel: str, text: str, blocks: list[dict] | None,
             thread_ts: str | None = None) -> str:
        """Queue a new message; returns its key (use it as the message's ts everywhere)."""
        key = "m-" + uuid.uuid4().hex[:16]
        thread_key = self._key_of(channel, thread_ts) if thread_ts else None
        self.store.add_post(key, channel, thread_key, text, blocks, iso(self.clock.now()))
        self.kick()
        return key

    def upload(self, channel: str, thread_ts: str | None, filename: str, content: str,
               comment: str, fallback: list[str] | None = None) -> None:
        """Queue a text file for ``channel`` (a thread: after its parent's post); if Slack
        refuses it for good, ``fallback`` is posted there instead."""
        key = "f-" + uuid.uuid4().hex[:16]
        thread_key = self._key_of(channel, thread_ts) if thread_ts else None
        self.store.add_file(key, channel, thread_key, filename, content, comment,
                            list(fallback or ()), iso(self.clock.now()))
        self.kick()

    def update(self, channel: str, ts: str, text: str, blocks: list[dict] | None) -> None:
        """Queue an update of the message ``ts`` (a key, or a Slack ts posted earlier)."""
        key = self._key_of(channel, ts)
        self.store.add_update(key, text, blocks, iso(self.clock.now()))
        self.kick()

    def serial(self, name: str) -> threading.Lock:
        """A lock per message ``name``: read the state, render and queue the update while
        holding it, so the update queued last (the one sent) shows the latest state."""
        with self._cond:
            return self._serial.setdefault(name, threading.Lock())

    def key_for(self, channel: str, ts: str) -> str:
        """The key the core knows a Slack message by (its ts if it never went through here).

        A reaction can come the instant Slack has a post, before its delivery is recorded:
        an unknown ts while posts to ``channel`` are in flight waits (up to ``TS_WAIT``)
        for them."""
        key = self.store.key_for_ts(channel, ts)
        if key is None:
            deadline = time.monotonic() + TS_WAIT
            with self._cond:
                while time.monotonic() < deadline and any(
                        m == METHOD["post"] and c == channel
                        for m, _, c in self._inflight.values()):
                    self._cond.wait(0.05)
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
        if self.store.message(ts) is not None:
            return ts
        key = self.store.key_for_ts(channel, ts)
        if key is None:
            self.store.known(channel, ts, iso(self.clock.now()))
        return key or ts

    # --- delivery ----------------------------------------------------------------------
    def start(self) -> None:
        """Start delivering (pending rows from before a restart go first)."""
        if self.delivery is None or self._thread is not None:
            return
        self._stop = False
        self.store.fail_orphans(iso(self.clock.now()))
        self._thread = threading.Thread(target=self._loop, daemon=True, name="relbot-outbox")
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop delivering; undelivered rows stay for the next start."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._cond:
            self._cond.wait_for(lambda: not self._inflight, timeout)
        try:
            self.store.release_leases(self.owner)
        except Exception:  # the database may already be closed
            log.debug("outbox: could not release leases", exc_info=True)

    def kick(self) -> None:
        """Wake the delivery thread (a row was added)."""
        with self._cond:
            self._dirty = True
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._stop:
                    return
                self._dirty = False
            try:
                self._renew()
                self.deliver_once()
                wait = self._next_wait()
            except Exception:
                log.exception("outbox delivery pass failed")
                wait = POLL
            with self._cond:
                if not self._stop and not self._dirty:
                    self._cond.wait(wait)

    def _renew(self) -> None:
        with self._cond:
            due = bool(self._inflight) and time.monotonic() - self._renewed >= RENEW
        if due:
            self.store.renew_leases(self.owner, time.time() + LEASE)
            self._renewed = time.monotonic()

    def _next_wait(self) -> float:
        now, mono = time.time(), time.monotonic()
        waits = [r.not_before - now for r in self.store.pending() if r.not_before > now]
        with self._cond:   # when the call in flight becomes slow, others may start
            waits += [t + SLOW - mono for _, t, _ in self._inflight.values()]
        return max(0.01, min([POLL, *waits]))

    def deliver_once(self) -> int:
        """Start sending the rows deliverable now; returns how many were started.

        One call at a time, in order; only when the calls in flight have taken longer than
        ``SLOW`` does another stream's row start beside them (up to ``PARALLEL``), so a
        hung call delays its own stream only."""
        if self.delivery is None:
            return 0
        started = 0
        for send in self.plan(time.time()):
            with self._cond:
                if self._stop or send.op.id in self._inflight:
                    continue
                if not self._may_start():
                    break
                self._inflight[send.op.id] = (METHOD[send.op.op], time.monotonic(),
                                              send.op.channel)
            threading.Thread(target=self._attempt, args=(send,), daemon=True,
                             name="relbot-outbox-send").start()
            started += 1
        return started

    def _may_start(self) -> bool:
        if len(self._inflight) >= PARALLEL:
            return False
        mono = time.monotonic()
        return all(mono - t >= SLOW for _, t, _ in self._inflight.values())

    def _attempt(self, send: _Send) -> None:
        assert self.delivery is not None
        try:
            now = time.time()
            if self.store.lease(send.op.id, self.owner, now, now + LEASE):
                self._send(send)
        except Exception:
            log.exception("outbox: attempt on %s failed", send.op.key)
        finally:
            with self._cond:
                self._inflight.pop(send.op.id, None)
                self._sends += 1
                self._dirty = True
                self._cond.notify_all()

    def plan(self, now: float, *, ignore: Callable[[str], bool] = lambda m: False
             ) -> list[_Send]:
        """Rows that may be sent at ``now``, in order (pure over the pending rows)."""
        rows = self.store.pending()
        busy = {r.key for r in rows if r.lease_until >= now}
        latest: dict[str, OpRow] = {}
        for r in rows:
            if r.op == "update":
                latest[r.key] = r
        streams: set[tuple[str, str | None]] = set()
        out = []
        for r in rows:
            if r.op in ("post", "file"):
                stream = (r.channel, r.thread_key)
                if stream in streams:
                    continue            # FIFO: an earlier post of this stream goes first
                streams.add(stream)
            elif latest[r.key].id != r.id or r.ts is None:
                continue                # a newer update covers it / its post is not out yet
            send = self._ready(r, latest.get(r.key), busy, now)
            if send is not None and not ignore(METHOD[r.op]):
                out.append(send)
        return out

    def _ready(self, r: OpRow, newest: OpRow | None, busy: set[str], now: float
               ) -> _Send | None:
        if r.not_before > now or r.key in busy:
            return None
        if r.op == "update":
            return _Send(r, r.text, r.blocks, None, r.id)
        thread_ts = None
        if r.thread_key is not None:
            thread_ts = self.slack_ts(r.thread_key)
            if thread_ts is None:
                return None             # the parent is not in Slack yet
        src = (newest or r) if r.op == "post" else r   # a queued post: its latest content
        return _Send(r, src.text, src.blocks, thread_ts, src.id)

    def _send(self, s: _Send) -> None:
        assert self.delivery is not None
        try:
            ts = None
            if s.op.op == "post":
                ts = self.delivery.post(s.op.channel, s.text, s.blocks, s.thread_ts)
            elif s.op.op == "file":
                self.delivery.upload(s.op.channel, s.thread_ts, s.op.filename or "file.txt",
                                     s.text, s.op.comment or "")
            else:
                assert s.op.ts is not None
                self.delivery.update(s.op.channel, s.op.ts, s.text, s.blocks)
        except DeliveryError as exc:
            self._failed(s.op, exc)
        except Exception as exc:  # noqa: BLE001 - a transport bug must not wedge the row
            log.exception("outbox: delivering %s raised", s.op.key)
            self._failed(s.op, DeliveryError(type(exc).__name__, retryable=True))
        else:
            self.store.delivered(s.op, ts, s.through, iso(self.clock.now()))

    def _failed(self, op: OpRow, exc: DeliveryError) -> None:
        what = f"{METHOD[op.op]} {op.key}"
        if not exc.retryable:
            log.error("outbox: %s failed for good: %s", what, exc.error)
            self.store.failed(op.id, exc.error, iso(self.clock.now()))
            if op.op == "file":   # what to post instead, in the same place
                for i, text in enumerate(op.blocks or ()):   # the thread by its key
                    self.post(op.channel, str(text).replace("{error}", exc.error) if i == 0
                              else str(text), None, op.thread_key)
            self.store.fail_orphans(iso(self.clock.now()))
            return
        delay = backoff(op.attempts, exc.retry_after)
        log.warning("outbox: %s failed (%s), retry %d in %.1f s", what, exc.error,
                    op.attempts + 1, delay)
        self.store.retry_later(op.id, exc.error, time.time() + delay)

    # --- waiting (tests, console) --------------------------------------------------------
    def settled(self, horizon: float = 1.0, *,
                ignore: Callable[[str], bool] = lambda m: False) -> bool:
        """Nothing in flight and nothing that will be sendable within ``horizon`` seconds
        (calls of methods ``ignore`` names, e.g. ones a test made hang, do not count)."""
        def quiet() -> bool:
            return all(ignore(method) for method, _, _ in self._inflight.values())

        with self._cond:
            if not quiet():
                return False
            sends = self._sends
        now = time.time()
        others = any(r.lease_owner not in (None, self.owner) and r.lease_until >= now
                     for r in self.store.pending())   # another deliverer's calls, or a dead
        empty = not others and not self.plan(now + horizon, ignore=ignore)   # one's lapsing
        with self._cond:   # no send began or ended while we looked at the rows
            return empty and quiet() and self._sends == sends

    def wait_settled(self, timeout: float = 30.0, *,
                     ignore: Callable[[str], bool] = lambda m: False) -> bool:
        """Block until :meth:`settled` (or ``timeout``); True when settled."""
        if self.delivery is None or self._thread is None:
            return True
        deadline = time.monotonic() + timeout
        while not self.settled(ignore=ignore):
            if time.monotonic() >= deadline:
                return False
            self.kick()
            with self._cond:
                self._cond.wait(0.02)
        return True


def _looks_like_ts(value: str) -> bool:
    head, _, tail = value.partition(".")
    return head.isdigit() and tail.isdigit()
