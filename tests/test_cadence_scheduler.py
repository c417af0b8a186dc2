"""Reminders fire through the persistent scheduler, and a restart neither loses nor repeats."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.clock import FakeClock
from tests.harness import Chat
from tests.test_cadence_reminders import CONFIG, _reminders


def test_scheduled_reminder_fires_via_scheduler_and_survives_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock("2026-01-12T07:00:00+00:00")        # an hour before the freeze
    first = Chat(tmp_path, CONFIG, clock=clock)
    jobs = first.svc.scheduler.jobs()
    assert [(j[0], j[1]) for j in jobs] == [("cadence:reminders", "cadence.reminders")]
    assert jobs[0][2] == datetime(2026, 1, 12, 8, 0, tzinfo=UTC)
    assert first.run_due() == 0 and _reminders(first) == []
    first.close()

    clock.advance(hours=1, minutes=1)                     # restart after it became due
    second = Chat(tmp_path, CONFIG, clock=clock)          # same database file
    try:
        _check_second(second, clock)
    finally:
        second.close()


def _check_second(second: Chat, clock: FakeClock) -> None:
    second.run_due()
    texts = [m.text for m in _reminders(second)]
    assert texts == ["Stabilization week for the next release (major, cycle 1)."]
    assert second.run_due() == 0
    assert len(_reminders(second)) == 1
    # the next occurrence is scheduled already
    assert second.svc.scheduler.jobs()[0][2] > clock.now()


def test_reminder_fires_from_the_scheduler_job(make_chat) -> None:  # type: ignore[no-untyped-def]
    chat = make_chat(CONFIG, clock=FakeClock("2026-01-12T07:00:00+00:00"))
    chat.clock.advance(hours=1)
    assert chat.run_due() == 1                            # the stored job ran
    assert [m.text for m in _reminders(chat)] == [
        "Stabilization week for the next release (major, cycle 1)."]
    assert [a.subject for a in chat.audit("cadence.reminder")
            if a.action == "cadence.reminder"] == ["reminder:stabilization:2026-01-12T09:00"]
