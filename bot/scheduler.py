"""Persistent scheduler: APScheduler 3 with the SQLite job store in the bot's database.

Features register named job functions ``fn(svc, **kwargs)`` and add one-off jobs by id; jobs
persist across restarts (a job missed while the bot was down runs on start). Tests and the
console use :meth:`Scheduler.run_due` with a fake clock instead of waiting.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler

from bot.clock import Clock, iso
from storage.db import Database
from storage.jobstore import JobClaims, SQLiteJobStore

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)
JobFn = Callable[..., None]
RETRIES = 3                           # a job that raises runs again up to this many times
RETRY_AFTER = timedelta(minutes=1)    # ... this long after its failed attempt


def _unbound(name: str, job_id: str, *occurrence: Any, **kwargs: Any) -> None:  # pragma: no cover
    raise RuntimeError(f"scheduler job {name!r} ran before a scheduler was bound")


class _Aps(BackgroundScheduler):
    """APScheduler that processes jobs only while ``live`` (not while paused or stopping)."""

    live = False
    poll: float | None = None  # shared database: also look for jobs other replicas added

    def _process_jobs(self) -> float | None:
        if not self.live:
            return None
        wait = super()._process_jobs()
        if self.poll is not None and (wait is None or wait > self.poll):
            return self.poll
        return wait


class Scheduler:
    """Named jobs on a persistent APScheduler; real time only after :meth:`start`."""

    def __init__(self, db: Database, clock: Clock, *, real_time: bool = True,
                 poll: float | None = None) -> None:
        self.clock = clock
        self.real_time = real_time
        self.svc: Services | None = None
        self._fns: dict[str, JobFn] = {}
        self.store = SQLiteJobStore(db, self._bind_job)
        self.claims = JobClaims(db)
        self.owner = uuid.uuid4().hex[:12]
        self._aps = _Aps(
            jobstores={"default": self.store}, timezone=UTC,
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1})
        # Replicas share the job table: each one's APScheduler only knows its own additions,
        # so with ``poll`` it also wakes every ``poll`` seconds to see the others'.
        self._aps.poll = poll
        # Started paused at once so added jobs go straight to SQLite; resume() makes it live.
        self._aps.start(paused=True)

    def bind(self, svc: Services) -> None:
        """Give job functions the services they run with."""
        self.svc = svc

    def register(self, name: str, fn: JobFn) -> None:
        """Make ``name`` runnable: ``fn(svc, **kwargs)``."""
        self._fns[name] = fn

    def _bind_job(self, job: Job) -> None:
        job.func = self._call

    def _call(self, name: str, job_id: str, *occurrence: Any, **kwargs: Any) -> None:
        """Run one occurrence, once: claimed in the database first, so of two schedulers
        (threads or processes on one database) firing it only one acts. A job that raises
        is retried (a new occurrence) up to RETRIES times, RETRY_AFTER apart."""
        fn = self._fns.get(name)
        if fn is None:
            log.error("scheduler job %s: no function registered as %r", job_id, name)
            return
        run_at, attempt = (list(occurrence) + [None, 0])[:2]  # older jobs have neither
        key = f"{job_id}@{run_at or 'unknown'}"
        if not self.claims.claim(key, job_id, self.owner, iso(self.clock.now())):
            log.info("scheduler job %s already claimed elsewhere", key)
            return
        try:
            fn(self.svc, **kwargs)
        except Exception:
            log.exception("scheduler job %s (%s) failed", job_id, name)
            self.claims.finish(key, "failed")
            if attempt < RETRIES:
                base = job_id.split("#retry")[0]
                self.add_once(f"{base}#retry{attempt + 1}", self.clock.now() + RETRY_AFTER,
                              name, _attempt=attempt + 1, **kwargs)
            return
        self.claims.finish(key, "done")

    def add_once(self, job_id: str, run_at: datetime, name: str, **kwargs: Any) -> None:
        """Run ``name`` once at ``run_at`` (aware); replaces a job with the same id. Inside
        a ``db.tx()`` the job is added once that commits (never if it rolls back): APScheduler
        takes its job-store lock, which its own thread holds while it waits to write, so it is
        never taken under the database's write lock."""
        if run_at.tzinfo is None:
            raise ValueError(f"run_at for job {job_id!r} must be timezone-aware")
        attempt = int(kwargs.pop("_attempt", 0))
        self.store.db.after_commit(lambda: self._aps.add_job(
            "bot.scheduler:_unbound", "date", run_date=run_at, id=job_id,
            args=[name, job_id, iso(run_at), attempt], kwargs=kwargs,
            replace_existing=True, name=name))

    def remove(self, job_id: str) -> bool:
        """Forget ``job_id``; False if it did not exist. Inside a ``db.tx()`` it is removed
        with it, and again once it commits (after an :meth:`add_once` of the same id in it)."""
        if self.store.db.in_transaction():
            self.store.db.after_commit(lambda: self.store.claim(job_id))
        return self.store.claim(job_id)

    def jobs(self) -> list[tuple[str, str, datetime | None]]:
        """``(job_id, name, next_run_time)`` for every stored job."""
        return [(j.id, j.name, j.next_run_time) for j in self.store.get_all_jobs()]

    def start(self) -> None:
        """Go live: APScheduler runs due jobs in real time (missed ones at once)."""
        if not self._aps.live:
            self._aps.live = True
            self._aps.resume()

    def run_due(self) -> int:
        """Run every job due by ``clock.now()`` once (tests, console ``advance``)."""
        ran = 0
        for job in self.store.get_due_jobs(self.clock.now()):
            if not self.store.claim(job.id):  # someone else ran it
                continue
            self._call(*job.args, **job.kwargs)
            ran += 1
        return ran

    def pass_time(self, clock: Any, until: datetime) -> int:
        """Move a fake ``clock`` to ``until`` the way time passes: every job runs at its own
        due time, in order, not all at the end (console ``advance``)."""
        ran = 0
        while True:
            due = [t for _, _, t in self.jobs() if t is not None and t <= until]
            if not due:
                break
            clock.set(max(min(due), clock.now()))
            n = self.run_due()
            if n == 0:  # due but claimed elsewhere: do not spin
                break
            ran += n
        clock.set(until)
        return ran + self.run_due()

    def shutdown(self) -> None:
        """Stop the background thread; stored jobs stay for the next start."""
        self._aps.live = False
        try:
            self._aps.shutdown(wait=False)
        except Exception:  # already stopped
            pass
