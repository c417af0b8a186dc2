"""Background work after the ack, with a way to wait until everything has settled.

Listeners ack in the request and submit what follows the ack here (``handlers.after``),
features submit follow-up work to it, Bolt uses it as its ``listener_executor``, and the
console and tests call :meth:`WorkTracker.wait_idle` instead of sleeping.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)


class WorkTracker(ThreadPoolExecutor):
    """A thread pool that knows how many tasks are pending."""

    def __init__(self, max_workers: int = 16) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="relbot-work")
        self._pending = 0
        self._cond = threading.Condition()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        with self._cond:
            self._pending += 1

        def run() -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception:
                log.exception("background task failed")
                raise
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

        return super().submit(run)

    @property
    def pending(self) -> int:
        with self._cond:
            return self._pending

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no task is pending (or ``timeout``); True when idle."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout=timeout)
