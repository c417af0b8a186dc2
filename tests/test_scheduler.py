"""The persistent scheduler: jobs stored in SQLite, run once, survive a restart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.clock import FakeClock
from bot.scheduler import Scheduler
from storage.db import Database


def _sched(path: Path, clock: FakeClock, ran: list) -> Scheduler:
    s = Scheduler(Database(path), clock, real_time=False)
    s.bind("SVC")
    s.register("note", lambda svc, **kw: ran.append((svc, kw)))
    return s


def test_job_runs_once_when_due_and_survives_restart(tmp_path: Path) -> None:
    clock = FakeClock("2026-11-24T09:00:00+00:00")
    ran: list = []
    first = _sched(tmp_path / "relbot.db", clock, ran)
    first.add_once("j1", clock.now() + timedelta(hours=1), "note", what="expire")
    assert first.run_due() == 0 and ran == []
    first.shutdown()

    clock.advance(hours=2)
    second = _sched(tmp_path / "relbot.db", clock, ran)   # a restart on the same file
    assert [j[0] for j in second.jobs()] == ["j1"]
    assert second.run_due() == 1
    assert ran == [("SVC", {"what": "expire"})]
    assert second.run_due() == 0 and second.jobs() == []
    second.shutdown()


def test_replace_and_remove(tmp_path: Path) -> None:
    clock = FakeClock("2026-11-24T09:00:00+00:00")
    ran: list = []
    s = _sched(tmp_path / "relbot.db", clock, ran)
    s.add_once("j", clock.now() + timedelta(minutes=5), "note", n=1)
    s.add_once("j", clock.now() + timedelta(minutes=10), "note", n=2)
    assert len(s.jobs()) == 1
    clock.advance(minutes=7)
    assert s.run_due() == 0
    clock.advance(minutes=5)
    assert s.run_due() == 1 and ran[-1][1] == {"n": 2}
    s.add_once("k", clock.now(), "note")
    assert s.remove("k") is True and s.remove("k") is False
    assert s.run_due() == 0
    s.shutdown()
