"""The heartbeat lease a running rollback step holds, so a crash can be told from a step
that is merely slow."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.errors import AlreadyRunning
from storage.rollback import RollbackRow

if TYPE_CHECKING:
    from bot.services import Services

LEASE = timedelta(seconds=60)  # renewed every 20 s while a step runs


@contextmanager
def running(svc: Services, row: RollbackRow) -> Iterator[None]:
    """Hold a short lease, renewed while a step runs: once a crash stops the renewals it
    lapses, and :func:`bot.rollback.run.recover_job` can tell the rollback was interrupted."""
    key, stop = f"rollback:{row.product}", threading.Event()
    holder = f"{row.id}:{secrets.token_hex(4)}"  # one per execution: a second one is told
    held = svc.locks.acquire(key, holder, LEASE, f"rollback {row.id}")
    if held is not None and held.holder.startswith(f"{row.id}:"):
        raise AlreadyRunning(row.id, since=held.acquired)  # and leaves the owner's lease be

    def renew() -> None:
        while not stop.wait(LEASE.total_seconds() / 3):
            svc.locks.acquire(key, holder, LEASE, f"rollback {row.id}")

    beat = threading.Thread(target=renew, daemon=True, name=f"lease-{row.id}")
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()
        svc.locks.release(key, holder)
