"""Fault injection for the Slack stand-in: make Web API methods fail, slow down or hang.

Used by tests (``chat.api.faults``) and by ``relbot console`` (``fault ...``)::

    faults.fail("chat.update", 500, times=3)            # next 3 calls: HTTP 500 internal_error
    faults.fail("chat.postMessage", 429, retry_after=2)  # next call: 429 ratelimited
    faults.fail("chat.update", 500, times=None)         # every call until cleared
    faults.delay("chat.postMessage", 1.5)               # answer after 1.5 s (real time)
    faults.hang("chat.postMessage")                     # no answer until cleared
    faults.clear("chat.update"); faults.clear()         # one method / everything

A call that meets a fault is still recorded in the stand-in's call log. A hung call is
answered normally once its hang is cleared, unless its client gave up meanwhile (timed
out): then it is dropped unprocessed (``Call.dropped``), as if a proxy never forwarded it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

DEFAULT_ERRORS = {429: "ratelimited", 500: "internal_error", 502: "bad_gateway",
                  503: "service_unavailable", 504: "request_timeout"}


@dataclass
class Failure:
    """An HTTP answer to give instead of the real one; ``times=None`` means every call."""

    status: int
    error: str
    times: int | None
    retry_after: float | None = None

    def answer(self) -> tuple[int, dict, dict]:
        """(HTTP status, JSON body, headers) of the failed call, as Slack answers it."""
        headers = {} if self.retry_after is None else {"Retry-After": f"{self.retry_after:g}"}
        return self.status, {"ok": False, "error": self.error}, headers

    def describe(self, method: str) -> str:
        """One line for the console's ``fault`` listing."""
        n = "every call" if self.times is None else f"next {self.times}"
        ra = "" if self.retry_after is None else f", Retry-After {self.retry_after:g}"
        return f"{method}: {n} -> {self.status} {self.error}{ra}"


class Faults:
    """Per-method failures, delays and hangs, consulted once per Web API call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fail: dict[str, list[Failure]] = {}
        self._delay: dict[str, float] = {}
        self._hang: dict[str, threading.Event] = {}

    def fail(self, method: str, status: int = 500, *, times: int | None = 1,
             error: str | None = None, retry_after: float | None = None) -> Failure:
        """Answer the next ``times`` calls of ``method`` (every call if None) with ``status``.

        ``error`` defaults from the status (429 ratelimited, 500 internal_error, ...); a 429
        carries ``Retry-After: 1`` unless ``retry_after`` says otherwise.
        """
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        if status == 429 and retry_after is None:
            retry_after = 1
        failure = Failure(status, error or DEFAULT_ERRORS.get(status, "fatal_error"), times,
                          retry_after)
        with self._lock:
            self._fail.setdefault(method, []).append(failure)
        return failure

    def delay(self, method: str, seconds: float) -> None:
        """Answer every call of ``method`` only after ``seconds`` of real time."""
        if seconds < 0:
            raise ValueError(f"delay must not be negative, got {seconds}")
        with self._lock:
            self._delay[method] = seconds

    def hang(self, method: str) -> None:
        """Hold every call of ``method`` unanswered until :meth:`clear`."""
        with self._lock:
            self._hang.setdefault(method, threading.Event())

    def clear(self, method: str | None = None) -> None:
        """Remove the faults of ``method`` (all methods if None); releases hung calls."""
        with self._lock:
            names = [method] if method else list({*self._fail, *self._delay, *self._hang})
            for name in names:
                self._fail.pop(name, None)
                self._delay.pop(name, None)
                event = self._hang.pop(name, None)
                if event is not None:
                    event.set()

    def blocking(self, method: str) -> bool:
        """Does ``method`` hang, or fail every call, until cleared? (``wait_idle`` does not
        wait for such calls.)"""
        with self._lock:
            return method in self._hang or any(f.times is None
                                               for f in self._fail.get(method, []))

    def describe(self) -> list[str]:
        """One line per active fault (console ``fault``)."""
        with self._lock:
            out = [f.describe(m) for m, fs in self._fail.items() for f in fs]
            out += [f"{m}: delayed {s:g} s" for m, s in self._delay.items()]
            out += [f"{m}: hangs until cleared" for m in self._hang]
        return out

    # --- used by the stand-in's request handler ----------------------------------------
    def before(self, method: str, stopping: threading.Event) -> tuple[int, dict, dict] | None:
        """Apply hang/delay for one call of ``method``; the failure to answer, if any."""
        with self._lock:
            hang = self._hang.get(method)
            delay = self._delay.get(method, 0.0)
        if hang is not None:
            while not hang.wait(0.05) and not stopping.is_set():
                pass
        if delay:
            stopping.wait(delay)
        with self._lock:
            queue = self._fail.get(method)
            if not queue:
                return None
            failure = queue[0]
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    queue.pop(0)
            return failure.answer()


def parse_fault_command(faults: Faults, args: list[str]) -> str:
    """The console's ``fault ...`` line; returns what to print. Raises ValueError on misuse.

    ``fault`` lists; ``fault clear [METHOD]``; ``fault METHOD delay S``;
    ``fault METHOD hang``; ``fault METHOD STATUS [N|always] [ERROR] [retry-after=S]``.
    """
    if not args:
        return "\n".join(faults.describe()) or "(no faults)"
    if args[0] == "clear":
        faults.clear(args[1] if len(args) > 1 else None)
        return f"(faults cleared{' for ' + args[1] if len(args) > 1 else ''})"
    method, rest = args[0], args[1:]
    if rest[:1] == ["hang"]:
        faults.hang(method)
        return f"({method} hangs until `fault clear {method}`)"
    if rest[:1] == ["delay"] and len(rest) == 2:
        faults.delay(method, float(rest[1]))
        return f"({method} delayed {float(rest[1]):g} s)"
    if not rest or not rest[0].isdigit():
        raise ValueError("usage: fault METHOD STATUS [N|always] [ERROR] [retry-after=S] | "
                         "fault METHOD delay S | fault METHOD hang | fault clear [METHOD]")
    status, times, error, retry_after = int(rest[0]), 1, None, None
    for word in rest[1:]:
        if word.isdigit():
            times = int(word)
        elif word == "always":
            times = None
        elif word.startswith("retry-after="):
            retry_after = float(word.split("=", 1)[1])
        else:
            error = word
    failure = faults.fail(method, status, times=times, error=error, retry_after=retry_after)
    return f"({failure.describe(method)})"
