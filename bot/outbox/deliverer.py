"""The outbox's delivery loop: one thread per process sends the rows :mod:`bot.outbox.order`
allows, each attempt leased in the database (one deliverer across processes), retried with
:func:`bot.outbox.policy.backoff` or after ``Retry-After``.

One call at a time, except that a call slower than ``SLOW`` lets rows of other streams start
beside it (up to ``PARALLEL``): a hung call holds up its own stream only. A permanent failure
(``channel_not_found``) is recorded and audited by :mod:`bot.outbox.failures`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable

from bot.clock import Clock, iso
from bot.outbox.failures import Failures
from bot.outbox.order import Send, sendable
from bot.outbox.policy import LEASE, PARALLEL, POLL, RENEW, SLOW, backoff
from bot.outbox.transport import METHOD, Delivery, DeliveryError
from storage.outbox import OpRow, OutboxStore

log = logging.getLogger("bot.outbox")

class Deliverer:
    """Sends the outbox's rows through ``delivery``; ``post`` queues a message (a refused
    file's fallback texts) and ``slack_ts`` maps a key to Slack's ts once delivered."""

    def __init__(self, store: OutboxStore, clock: Clock, delivery: Delivery | None,
                 slack_ts: Callable[[str], str | None], failures: Failures) -> None:
        self.store, self.clock, self.delivery = store, clock, delivery
        self._slack_ts, self.failures = slack_ts, failures
        self.owner = uuid.uuid4().hex[:12]
        self._cond = threading.Condition()
        self._inflight: dict[int, tuple[str, float, str]] = {}  # id -> method, start, channel
        self._sends = 0                        # attempts finished (settled() compares)
        self._dirty = False                    # something changed since the loop looked
        self._renewed = 0.0                    # when our leases were last renewed
        self._stop = False
        self._thread: threading.Thread | None = None
        self._senders = _Senders(PARALLEL, "relbot-outbox-send")

    # --- running -----------------------------------------------------------------------
    def start(self) -> None:
        """Start delivering (pending rows from before a restart go first)."""
        if self.delivery is None or self._thread is not None:
            return
        self._stop = False
        self.failures.orphans()
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
        self._senders.close()
        try:
            self.store.release_leases(self.owner)
        except Exception:  # the database may already be closed
            log.debug("outbox: could not release leases", exc_info=True)

    @property
    def running(self) -> bool:
        """Whether the delivery thread runs."""
        return self.delivery is not None and self._thread is not None

    def kick(self) -> None:
        """Wake the delivery thread (a row was added)."""
        with self._cond:
            self._dirty = True
            self._cond.notify_all()

    def wait_posts(self, channel: str, timeout: float) -> None:
        """Wait (up to ``timeout``) until no post to ``channel`` is in flight here."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while time.monotonic() < deadline and any(
                    m == METHOD["post"] and c == channel for m, _, c in self._inflight.values()):
                self._cond.wait(0.05)

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._stop:
                    return
                self._dirty = False
            try:
                self._renew()
                rows = self.store.pending()
                self._deliver(rows)
                wait = self._next_wait(rows)
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

    def _next_wait(self, rows: list[OpRow]) -> float:
        """Until the next pass: the earliest backoff among ``rows`` (the pending rows this
        pass read; a send that ends wakes the loop, which reads them again), a call in
        flight turning slow, or the poll for other processes' rows."""
        now, mono = time.time(), time.monotonic()
        waits = [r.not_before - now for r in rows if r.not_before > now]
        with self._cond:   # when the call in flight becomes slow, others may start
            waits += [t + SLOW - mono for _, t, _ in self._inflight.values()]
        return max(0.01, min([POLL, *waits]))

    # --- sending -----------------------------------------------------------------------
    def plan(self, now: float, *, ignore: Callable[[str], bool] = lambda m: False
             ) -> list[Send]:
        """Rows that may be sent at ``now``, in order (see :mod:`bot.outbox.order`)."""
        return sendable(self.store.pending(), now, self._slack_ts, ignore=ignore)

    def deliver_once(self) -> int:
        """Start sending the rows deliverable now; returns how many were started.

        One call at a time, in order; only when the calls in flight have taken longer than
        ``SLOW`` does another stream's row start beside them (up to ``PARALLEL``), so a
        hung call delays its own stream only."""
        return self._deliver(self.store.pending())

    def _deliver(self, rows: list[OpRow]) -> int:
        if self.delivery is None:
            return 0
        started = 0
        for send in sendable(rows, time.time(), self._slack_ts):
            with self._cond:
                if self._stop or send.op.id in self._inflight:
                    continue
                if not self._may_start():
                    break
                self._inflight[send.op.id] = (METHOD[send.op.op], time.monotonic(),
                                              send.op.channel)
            self._senders.submit(self._attempt, send)
            started += 1
        return started

    def _may_start(self) -> bool:
        if len(self._inflight) >= PARALLEL:
            return False
        mono = time.monotonic()
        return all(mono - t >= SLOW for _, t, _ in self._inflight.values())

    def _attempt(self, send: Send) -> None:
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

    def _send(self, s: Send) -> None:
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
            self.failures.record(op, exc.error)
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
        if not self.running:
            return True
        deadline = time.monotonic() + timeout
        while not self.settled(ignore=ignore):
            if time.monotonic() >= deadline:
                return False
            self.kick()
            with self._cond:
                self._cond.wait(0.02)
        return True


class _Senders:
    """The threads that make the Slack calls: started as calls need them and kept while
    idle (up to ``keep``), so each keeps its database connection (a thread per call opened
    a new one, and SQLite parsed the schema on it, for every attempt). Every call gets a
    thread of its own at once: one that hangs never holds up another."""

    def __init__(self, keep: int, name: str) -> None:
        self.keep, self.name = keep, name
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[Callable[[Send], None], Send] | None] = (
            queue.SimpleQueue())
        self._idle = 0          # threads waiting for work that no submit has claimed
        self._closing = False

    def submit(self, fn: Callable[[Send], None], send: Send) -> None:
        """Run ``fn(send)`` on an idle thread, or on a new one."""
        with self._lock:
            self._closing = False
            if self._idle:
                self._idle -= 1
            else:
                threading.Thread(target=self._run, daemon=True, name=self.name).start()
        self._queue.put((fn, send))

    def close(self) -> None:
        """Let the idle threads end (busy ones end when their call returns)."""
        with self._lock:
            self._closing = True
            idle, self._idle = self._idle, 0
        for _ in range(idle):
            self._queue.put(None)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            job[0](job[1])
            with self._lock:
                if self._closing or self._idle >= self.keep:
                    return
                self._idle += 1
