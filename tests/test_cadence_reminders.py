"""Reminders through the running bot: once per occurrence, restarts, grace, /release calendar."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from bot.cadence.reminders import run_pending
from bot.clock import FakeClock
from handlers import cadence as cadence_handlers
from storage.cadence import CadenceStore
from storage.db import Database
from tests.harness import BASE_CONFIG

CONFIG = BASE_CONFIG + """\
calendar:
  cycle_start: 2026-01-05
  grace: 1h
  skip: [2026-12-21, 2026-12-28]
  reminders:
    - {id: freeze-eve, before: freeze, offset: 1d, time: "15:00", text: "Feature freeze tomorrow."}
    - id: stabilization
      at: freeze
      text: "Stabilization week for {version} ({kind}, cycle {cycle})."
    - {id: release-day, at: release, channel: C0OTHER, text: "Release day, {date}."}
"""


def _reminders(chat):  # type: ignore[no-untyped-def]
    return [m for m in chat.messages if "Feature freeze" in m.text or "Stabilization" in m.text
            or "Release day" in m.text]


def test_reminder_posted_once_on_time_and_audited(make_chat) -> None:  # type: ignore[no-untyped-def]
    # Mon 12 Jan 2026 09:00 Berlin = 08:00 UTC is the freeze of cycle 1
    chat = make_chat(CONFIG, clock=FakeClock("2026-01-12T07:59:00+00:00"))
    assert run_pending(chat.svc) == []
    chat.clock.advance(minutes=1)
    assert run_pending(chat.svc) == ["reminder:stabilization:2026-01-12T09:00"]
    assert run_pending(chat.svc) == []
    cadence_handlers.setup(chat.svc)          # a restart re-runs setup: nothing new
    chat.run_due()
    msgs = _reminders(chat)
    assert [m.text for m in msgs] == [
        "Stabilization week for the next release (major, cycle 1)."]
    assert msgs[0].channel == "C0RELEASES"
    audit = [a for a in chat.audit("cadence.reminder") if a.action == "cadence.reminder"]
    assert [a.subject for a in audit] == ["reminder:stabilization:2026-01-12T09:00"]


def test_second_replica_on_the_same_db_does_not_post_again(make_chat, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # started 5 minutes after release-day: setup() posted it on start
    chat = make_chat(CONFIG, clock=FakeClock("2026-01-15T13:05:00+00:00"))
    assert run_pending(chat.svc) == []
    assert [m.channel for m in _reminders(chat)] == ["C0OTHER"]
    other = CadenceStore(Database(chat.db_path))
    assert other.status("reminder:release-day:2026-01-15T14:00") == "posted"
    assert not other.claim("reminder:release-day:2026-01-15T14:00", "posted", "x")


def test_missed_reminder_within_grace_is_posted_once(make_chat) -> None:  # type: ignore[no-untyped-def]
    # the bot starts 50 minutes after the freeze reminder: within the 1h grace
    chat = make_chat(CONFIG, clock=FakeClock("2026-01-12T08:50:00+00:00"))
    cadence_handlers.setup(chat.svc)
    cadence_handlers.setup(chat.svc)
    chat.wait()
    assert len(_reminders(chat)) == 1
    assert [a.subject for a in chat.audit("cadence.reminder.skipped")] == [
        "reminder:freeze-eve:2026-01-11T15:00"]   # 18 hours late: beyond grace


def test_missed_reminder_beyond_grace_is_skipped_and_audited(make_chat) -> None:  # type: ignore[no-untyped-def]
    chat = make_chat(CONFIG, clock=FakeClock("2026-01-12T09:30:00+00:00"))
    cadence_handlers.setup(chat.svc)
    chat.wait()
    assert _reminders(chat) == []
    skipped = chat.audit("cadence.reminder.skipped")
    assert [a.subject for a in skipped] == ["reminder:freeze-eve:2026-01-11T15:00",
                                            "reminder:stabilization:2026-01-12T09:00"]
    chat.clock.advance(timedelta(days=3, hours=4))   # Thu 15 Jan 14:30 Berlin
    assert run_pending(chat.svc) == ["reminder:release-day:2026-01-15T14:00"]


def test_holiday_weeks_post_nothing(make_chat) -> None:  # type: ignore[no-untyped-def]
    chat = make_chat(CONFIG, clock=FakeClock("2026-12-20T00:00:00+00:00"))
    for _ in range(14 * 24):
        chat.clock.advance(hours=1)
        run_pending(chat.svc)
    chat.wait()
    assert _reminders(chat) == []


def test_release_calendar_command_lists_next_milestones(make_chat) -> None:  # type: ignore[no-untyped-def]
    chat = make_chat(CONFIG, clock=FakeClock("2026-01-13T10:00:00+00:00"))
    said = chat.command("U0BOB", "/release calendar 3")
    assert "Cycle 1 (major) since 2026-01-05, week 2 of 2, stabilization week: yes" in said.text
    assert "Thu 2026-01-15 14:00 CET" in said.text and "Release" in said.text
    assert said.text.count("cycle 1 (major)") == 2
    assert "Reminder freeze-eve" in said.text and "cycle 2 (minor)" in said.text
    golden = Path(__file__).parent / "golden" / "cadence" / "calendar.txt"
    rendered = "\n".join(m.rendered for m in said.private) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(rendered)
    assert rendered == golden.read_text()
    assert [a.action for a in chat.audit("cadence.calendar")] == ["cadence.calendar"]
    bad = chat.command("U0BOB", "/release calendar 0")
    assert "N must be a number from 1 to 100" in bad.text
