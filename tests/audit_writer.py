"""What a second relbot process does to the audit log, for
``tests/test_storage_contract.py``'s concurrent-process test: the children it spawns import
this module, which needs only ``storage`` (the test module would import the whole bot in
each child)."""

from __future__ import annotations

from storage.audit import AuditLog
from storage.db import Database


def append_many(url: str, n: int) -> None:
    """Append ``n`` entries to the audit log at ``url`` from this process."""
    d = Database(url)
    log = AuditLog(d)
    for _ in range(n):
        log.append("replica", "x")
    d.close()
