"""Exactly once across processes: every timed job claims its occurrence before it acts."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from bot.clock import FakeClock
from bot.scheduler import Scheduler
from storage.db import Database
from tests.harness import Chat
from tests.rollback_fixtures import GROUPS, rb_message, rollback_chat, rollback_config


def _fire_together(scheds: list[Scheduler], job_id: str) -> None:
    """What APScheduler does in each process when the job is due: load it, call it."""
    jobs = [s.store.lookup_job(job_id) for s in scheds]
    gate = threading.Barrier(len(jobs))

    def fire(job) -> None:  # type: ignore[no-untyped-def]
        gate.wait()
        job.func(*job.args, **job.kwargs)

    threads = [threading.Thread(target=fire, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)


def test_two_schedulers_on_one_database_run_an_occurrence_once(tmp_path: Path) -> None:
    clock = FakeClock("2026-11-24T09:00:00+00:00")
    ran: list[str] = []
    scheds = []
    for name in ("a", "b"):
        s = Scheduler(Database(tmp_path / "relbot.db"), clock, real_time=False)
        s.bind(name)
        s.register("note", lambda svc, **kw: ran.append(svc))
        scheds.append(s)
    scheds[0].add_once("j1", clock.now() + timedelta(minutes=5), "note")
    clock.advance(minutes=5)
    _fire_together(scheds, "j1")
    assert len(ran) == 1
    # the same job id at a new time is a new occurrence
    scheds[1].add_once("j1", clock.now() + timedelta(minutes=5), "note")
    clock.advance(minutes=5)
    _fire_together(scheds, "j1")
    assert len(ran) == 2
    for s in scheds:
        s.shutdown()


def test_a_job_that_raises_is_retried_not_marked_done(tmp_path: Path) -> None:
    clock = FakeClock("2026-11-24T09:00:00+00:00")
    calls: list[int] = []

    def flaky(svc, **kw) -> None:  # type: ignore[no-untyped-def]
        calls.append(kw["n"])
        if len(calls) == 1:
            raise RuntimeError("database is locked")

    s = Scheduler(Database(tmp_path / "relbot.db"), clock, real_time=False)
    s.register("flaky", flaky)
    s.add_once("j", clock.now(), "flaky", n=7)
    assert s.run_due() == 1 and calls == [7]
    assert s.claims.state("j@2026-11-24T09:00:00Z") == "failed"
    assert [j[0] for j in s.jobs()] == ["j#retry1"]
    clock.advance(minutes=1)
    assert s.run_due() == 1 and calls == [7, 7] and s.jobs() == []
    s.shutdown()


def test_two_relbots_on_one_database_post_one_escalation(make_chat) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 case 10: both processes fire the rollback escalation; one posts it."""
    matrix = ("  matrix:\n    critical:\n"
              "      minimal: {type: immediate, approvals: 1, notify_oncall: true}\n")
    config = rollback_config(rollback_extra=matrix)
    one = rollback_chat(make_chat, config)
    one.command("U0ALICE", "/rollback api sev=critical impact=minimal checkout broken")
    assert "no decision yet" in rb_message(one).rendered
    two = Chat(one.tmp, config, clock=one.clock, groups=GROUPS, api=one.api)  # same db, Slack
    try:
        one.clock.advance(minutes=5)
        [job_id] = [j for j, name, _ in one.svc.scheduler.jobs() if name == "rollback.escalate"]
        _fire_together([one.svc.scheduler, two.svc.scheduler], job_id)
        one.wait()
        two.wait()
        alarms = [m for m in one.messages if m.rendered.startswith(":alarm_clock: RB-0001")
                  and m.thread_ts is None]
        assert len(alarms) == 1
        assert len(one.audit("rollback.escalated")) == 1
    finally:
        two.close()
