"""APScheduler 3 job store in the bot's own database (SQLite or PostgreSQL, no SQLAlchemy)."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from apscheduler.util import datetime_to_utc_timestamp, utc_timestamp_to_datetime

from storage.db import Database
from storage.dialect import integrity_errors

MIGRATIONS = [
    """
    CREATE TABLE scheduler_jobs (
        id            TEXT PRIMARY KEY,
        next_run_time REAL,
        job_state     BLOB NOT NULL
    );
    CREATE INDEX scheduler_jobs_next ON scheduler_jobs(next_run_time);
    """,
    """
    CREATE TABLE job_claims (
        occurrence TEXT PRIMARY KEY,
        job_id     TEXT NOT NULL,
        owner      TEXT NOT NULL,
        claimed_at TEXT NOT NULL,
        state      TEXT NOT NULL DEFAULT 'running'
    );
    """,
]


class SQLiteJobStore(BaseJobStore):
    """Jobs survive restarts; ``bind_func`` swaps in the live callable on load."""

    def __init__(self, db: Database, bind_func: Callable[[Job], None]) -> None:
        super().__init__()
        self.db = db
        self._bind = bind_func
        db.migrate("scheduler", MIGRATIONS)

    def _job(self, state: bytes) -> Job:
        job = Job.__new__(Job)
        job.__setstate__(pickle.loads(state))
        job._scheduler = self._scheduler
        job._jobstore_alias = self._alias
        self._bind(job)
        return job

    def _jobs(self, where: str = "", params: tuple = ()) -> list[Job]:
        rows = self.db.conn().execute(
            f"SELECT id, job_state FROM scheduler_jobs {where} ORDER BY next_run_time",  # noqa: S608
            params).fetchall()
        jobs = []
        for row in rows:
            try:
                jobs.append(self._job(row[1]))
            except Exception:  # an unloadable job must not stop the others
                self._logger.exception("dropping unloadable job %s", row[0])
                self.remove_job(row[0])
        return jobs

    def lookup_job(self, job_id: str) -> Job | None:
        row = self.db.conn().execute(
            "SELECT job_state FROM scheduler_jobs WHERE id = ?", (job_id,)).fetchone()
        return self._job(row[0]) if row else None

    def get_due_jobs(self, now: Any) -> list[Job]:
        return self._jobs("WHERE next_run_time <= ?", (datetime_to_utc_timestamp(now),))

    def get_next_run_time(self) -> Any:
        row = self.db.conn().execute(
            "SELECT MIN(next_run_time) FROM scheduler_jobs WHERE next_run_time IS NOT NULL"
        ).fetchone()
        return utc_timestamp_to_datetime(row[0]) if row and row[0] is not None else None

    def get_all_jobs(self) -> list[Job]:
        jobs = self._jobs()
        self._fix_paused_jobs_sorting(jobs)
        return jobs

    def add_job(self, job: Job) -> None:
        try:
            self.db.conn().execute(
                "INSERT INTO scheduler_jobs(id, next_run_time, job_state) VALUES (?, ?, ?)",
                (job.id, datetime_to_utc_timestamp(job.next_run_time),
                 pickle.dumps(job.__getstate__(), pickle.HIGHEST_PROTOCOL)))
        except integrity_errors() as exc:
            raise ConflictingIdError(job.id) from exc

    def update_job(self, job: Job) -> None:
        cur = self.db.conn().execute(
            "UPDATE scheduler_jobs SET next_run_time = ?, job_state = ? WHERE id = ?",
            (datetime_to_utc_timestamp(job.next_run_time),
             pickle.dumps(job.__getstate__(), pickle.HIGHEST_PROTOCOL), job.id))
        if cur.rowcount == 0:
            raise JobLookupError(job.id)

    def remove_job(self, job_id: str) -> None:
        # Silent when already gone: run_due/remove() on another thread or replica may have
        # claimed it first, and that is the exactly-once outcome we want.
        self.claim(job_id)

    def claim(self, job_id: str) -> bool:
        """Delete ``job_id``; True only for the one caller that removed it (run-once)."""
        cur = self.db.conn().execute("DELETE FROM scheduler_jobs WHERE id = ?", (job_id,))
        return cur.rowcount == 1

    def remove_all_jobs(self) -> None:
        self.db.conn().execute("DELETE FROM scheduler_jobs")


class JobClaims:
    """One row per occurrence of a timed job (job id @ its due time): whoever inserts it
    acts, everyone else stands aside -- across threads and processes on one database.
    Plain SQL (``INSERT ... ON CONFLICT DO NOTHING``), so it works on PostgreSQL too."""

    def __init__(self, db: Database) -> None:
        self.db = db   # the table is created by SQLiteJobStore's migrations

    def claim(self, occurrence: str, job_id: str, owner: str, at: str) -> bool:
        """True only for the one caller that claimed ``occurrence``."""
        cur = self.db.conn().execute(
            "INSERT INTO job_claims(occurrence, job_id, owner, claimed_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING", (occurrence, job_id, owner, at))
        return cur.rowcount == 1

    def finish(self, occurrence: str, state: str) -> None:
        """Record how the claimed occurrence ended (``done`` or ``failed``)."""
        self.db.conn().execute("UPDATE job_claims SET state = ? WHERE occurrence = ?",
                               (state, occurrence))

    def state(self, occurrence: str) -> str | None:
        row = self.db.conn().execute("SELECT state FROM job_claims WHERE occurrence = ?",
                                     (occurrence,)).fetchone()
        return row[0] if row else None
