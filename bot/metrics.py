"""Operator signals: Prometheus metrics (``GET /metrics``) built with prometheus-client.

Counters follow the audit log: every command, vote, execution and rollback already writes an
audit entry, so :meth:`Metrics.observe` (an :class:`storage.audit.AuditLog` observer) counts
exactly what was audited, with no second set of call sites to keep in step. Queue-like
figures (job lag, outbox depth and age) are read when scraped. Each :class:`Services` has its
own registry, so tests and the console never share counters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.clock import Clock

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter
    from prometheus_client.core import Metric

COMMAND_OUTCOMES = {"command": "run", "command.usage": "usage", "command.refused": "refused",
                    "command.failed": "failed", "command.error": "error"}
VOTE_RESULTS = {"approval.counted": "counted", "approval.refused": "refused",
                "approval.revoked": "revoked"}
SYNC_OUTCOMES = ("success", "failed", "refused", "interrupted")


class Entry(Protocol):
    """What :meth:`Metrics.observe` reads of an audit entry."""

    action: str
    subject: str
    payload: dict[str, Any]


class Metrics:
    """The bot's metrics; ``render()`` is the body and content type of ``GET /metrics``.
    The registry and its counters are made (and prometheus-client imported) when first
    counted or scraped, not at start-up."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.jobs: Callable[[], list[datetime | None]] = list
        self.outbox: Callable[[], tuple[int, float]] | None = None
        self._built: _Counters | None = None
        self._lock = threading.Lock()

    def _counters(self) -> _Counters:
        built = self._built
        if built is None:
            with self._lock:
                built = self._built = self._built or _Counters(self)
        return built

    @property
    def registry(self) -> CollectorRegistry:
        return self._counters().registry

    @property
    def commands(self) -> Counter:
        return self._counters().commands

    @property
    def votes(self) -> Counter:
        return self._counters().votes

    @property
    def executions(self) -> Counter:
        return self._counters().executions

    @property
    def rollbacks(self) -> Counter:
        return self._counters().rollbacks

    @property
    def slack_errors(self) -> Counter:
        return self._counters().slack_errors

    @property
    def outbox_failed(self) -> Counter:
        return self._counters().outbox_failed

    def observe(self, e: Entry) -> None:
        """Count one audit entry (called after it is committed)."""
        a = e.action
        if a in COMMAND_OUTCOMES:
            self.commands.labels(e.subject or "?", COMMAND_OUTCOMES[a]).inc()
        elif a in VOTE_RESULTS:
            self.votes.labels(VOTE_RESULTS[a]).inc()
        elif a.startswith("sync.") and a[5:] in SYNC_OUTCOMES:
            self.executions.labels("sync", a[5:]).inc()
        elif a == "rollback.completed":
            self.executions.labels("rollback", "success").inc()
        elif a == "rollback.step" and e.payload.get("status") == "failed":
            self.executions.labels("rollback", "failed").inc()
        elif a == "rollback.aborted":
            self.executions.labels("rollback", "aborted").inc()
        elif a == "outbox.failed":
            self.outbox_failed.labels(str(e.payload.get("method", "unknown")),
                                      str(e.payload.get("error", "unknown"))).inc()
        elif a == "rollback.declared":
            self.rollbacks.labels(str(e.payload.get("kind", "unknown")),
                                  str(e.payload.get("procedure", "unknown"))).inc()

    def slack_error(self, method: str, error: str) -> None:
        """Count a failed Slack Web API call."""
        self.slack_errors.labels(method, error or "unknown").inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _Counters:
    """The registry with the counters and the scrape-time gauges of one :class:`Metrics`."""

    def __init__(self, m: Metrics) -> None:
        from prometheus_client import CollectorRegistry, Counter

        self.registry = r = CollectorRegistry(auto_describe=True)
        self.commands = Counter("relbot_commands", "Slash commands by command and outcome "
                                "(run, usage, refused, failed, error)", ["command", "outcome"],
                                registry=r)
        self.votes = Counter("relbot_votes", "Approval votes (reactions or buttons) by result "
                             "(counted, refused, revoked)", ["result"], registry=r)
        self.executions = Counter("relbot_executions", "Sync and rollback executions by "
                                  "outcome", ["kind", "outcome"], registry=r)
        self.rollbacks = Counter("relbot_rollbacks", "Rollbacks declared, by matrix type and "
                                 "procedure", ["type", "procedure"], registry=r)
        self.slack_errors = Counter("relbot_slack_api_errors", "Slack Web API calls that "
                                    "failed, by method and error", ["method", "error"],
                                    registry=r)
        self.outbox_failed = Counter("relbot_outbox_failed", "Slack posts, updates and files "
                                     "the outbox gave up on for good (audited as outbox.failed),"
                                     " by method and error", ["method", "error"], registry=r)
        r.register(_Gauges(m))


class _Gauges:
    """Figures read at scrape time."""

    def __init__(self, m: Metrics) -> None:
        self.m = m

    def describe(self) -> list[Metric]:
        return []  # not known before the first scrape; keeps registration side-effect free

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        now = self.m.clock.now()
        due = [t for t in self.m.jobs() if t is not None and t <= now]
        lag = max(((now - t).total_seconds() for t in due), default=0.0)
        yield GaugeMetricFamily("relbot_job_lag_seconds", "How late the most overdue "
                                "scheduled job is (0 when none is overdue)", value=lag)
        yield GaugeMetricFamily("relbot_jobs_due", "Scheduled jobs past their run time",
                                value=len(due))
        if self.m.outbox is not None:
            depth, age = self.m.outbox()
            yield GaugeMetricFamily("relbot_outbox_depth", "Slack messages waiting in the "
                                    "outbox", value=depth)
            yield GaugeMetricFamily("relbot_outbox_oldest_age_seconds", "Age of the oldest "
                                    "message waiting in the outbox", value=age)
