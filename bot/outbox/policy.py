"""The outbox's timing policy: backoff between attempts, leases, polling, parallel calls."""

from __future__ import annotations

BACKOFF_BASE = 0.2    # seconds before the first retry; doubles per attempt
BACKOFF_CAP = 30.0    # never wait longer than this between attempts (unless Retry-After)
POLL = 0.5            # how often to look for rows written by another process
SLOW = 1.0            # a call in flight this long lets other streams' rows start beside it
PARALLEL = 4          # at most this many calls in flight
LEASE = 5.0           # a row being sent is held this long, renewed while its call runs,
RENEW = 1.5           # ... every this often: a killed process's rows are free in seconds
TS_WAIT = 5.0         # key_for: how long an unknown ts waits for this process's posts


def backoff(attempts: int, retry_after: float | None) -> float:
    """Seconds to wait before attempt ``attempts + 1``; Slack's ``Retry-After`` wins."""
    if retry_after is not None:
        return max(0.0, retry_after)
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempts)
