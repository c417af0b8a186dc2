"""Pure calendar arithmetic: DST, holidays, quarter boundaries, config errors, ics."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.cadence import calendar as c
from bot.cadence.config import CalendarConfig
from bot.cadence.ics import to_ics
from bot.cadence.loader import load_calendar_text
from bot.errors import ConfigError
from bot.render.cadence import label

CAL = CalendarConfig(
    timezone="Europe/Berlin", cycle_start=date(2026, 1, 5), skip=[date(2026, 12, 21),
                                                                  date(2026, 12, 28)],
    reminders=[
        {"id": "freeze-eve", "before": "freeze", "offset": "1d", "time": "15:00",
         "text": "Feature freeze tomorrow"},
        {"id": "stabilization", "at": "freeze", "text": "Stabilization for {version}"},
        {"id": "release-day", "at": "release", "text": "Release day {version}"},
    ])


def test_cycles_and_stabilization_weeks() -> None:
    assert c.cycle_of(CAL, date(2026, 1, 5)) == 1
    assert c.cycle_of(CAL, date(2026, 1, 18)) == 1
    assert c.cycle_of(CAL, date(2026, 1, 19)) == 2
    assert not c.is_stabilization(CAL, date(2026, 1, 9))
    assert c.is_stabilization(CAL, date(2026, 1, 12))
    assert c.milestone_at(CAL, 1, "freeze") == datetime(2026, 1, 12, 8, 0, tzinfo=UTC)
    assert c.milestone_at(CAL, 1, "release") == datetime(2026, 1, 15, 13, 0, tzinfo=UTC)


def test_local_times_hold_across_dst_in_march_and_october() -> None:
    # cycle 6: freeze Mon 23 Mar (CET); cycle 7: freeze Mon 6 Apr (CEST, after 29 Mar)
    assert c.milestone_at(CAL, 6, "freeze").astimezone(UTC).hour == 8
    assert c.milestone_at(CAL, 7, "freeze").astimezone(UTC).hour == 7
    # a cycle whose freeze-eve lands on Sunday 25 Oct 2026, the day DST ends (03:00 -> 02:00)
    octo = CAL.model_copy(update={"cycle_start": date(2026, 10, 19), "skip": []})
    occ = c.occurrences(octo, datetime(2026, 10, 24, tzinfo=UTC), datetime(2026, 10, 27,
                                                                             tzinfo=UTC))
    eve = [o for o in occ if o.name == "freeze-eve"][0]
    assert eve.when.strftime("%Y-%m-%d %H:%M %Z") == "2026-10-25 15:00 CET"
    assert eve.when.astimezone(UTC).hour == 14
    assert eve.key == "reminder:freeze-eve:2026-10-25T15:00"
    # and one before the start of DST on Sunday 29 Mar 2026 (02:00 -> 03:00)
    march = CAL.model_copy(update={"cycle_start": date(2026, 3, 23), "skip": []})
    eve = [o for o in c.occurrences(march, datetime(2026, 3, 28, tzinfo=UTC),
                                    datetime(2026, 3, 31, tzinfo=UTC))
           if o.name == "freeze-eve"][0]
    assert eve.when.strftime("%Y-%m-%d %H:%M %Z") == "2026-03-29 15:00 CEST"
    assert eve.when.astimezone(UTC).hour == 13
    local_hours = {o.when.hour for o in c.occurrences(
        CAL, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC))
        if o.name == "freeze"}
    assert local_hours == {9}


def test_skipped_holiday_weeks_drop_milestones_and_shift_nothing_else() -> None:
    occ = c.occurrences(CAL, datetime(2026, 12, 14, tzinfo=UTC), datetime(2027, 1, 20,
                                                                            tzinfo=UTC), False)
    days = [o.when.date() for o in occ]
    assert not [d for d in days if date(2026, 12, 21) <= d < date(2027, 1, 4)]
    # the cycle after the holidays keeps its dates from cycle_start
    assert date(2027, 1, 11) in days and c.cycle_of(CAL, date(2027, 1, 11)) == 27
    assert c.status(CAL, datetime(2026, 12, 29, 10, tzinfo=UTC)).skipped


def test_major_in_first_cycle_of_each_quarter() -> None:
    kinds = {n: c.release_kind(CAL, n) for n in range(1, 28)}
    majors = [c.cycle_start(CAL, n) for n, k in kinds.items() if k == "major"]
    assert majors == [date(2026, 1, 5), date(2026, 4, 13), date(2026, 7, 6),
                      date(2026, 10, 12), date(2027, 1, 4)]
    never = CAL.model_copy(update={"major_every": "never"})
    assert c.release_kind(never, 8) == "minor"


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ValueError, match="cycle_start must be a Monday"):
        CalendarConfig(cycle_start=date(2026, 1, 6))
    with pytest.raises(ValueError, match="unknown milestone 'launch'"):
        CalendarConfig(cycle_start=date(2026, 1, 5),
                       reminders=[{"id": "x", "at": "launch", "text": "t"}])
    with pytest.raises(ConfigError, match=r"cal.yml:3: freeze.time: .*25:00"):
        load_calendar_text("cycle_start: 2026-01-05\ntimezone: UTC\n"
                           "freeze: {weekday: monday, week: 2, time: '25:00'}\n", "cal.yml")


def test_ics_parses_back() -> None:
    occ = c.occurrences(CAL, datetime(2026, 3, 20, tzinfo=UTC),
                        datetime(2026, 4, 10, tzinfo=UTC))
    text = to_ics(occ, {o.key: label(o) for o in occ}, datetime(2026, 3, 1, tzinfo=UTC))
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    unfolded = text.replace("\r\n ", "").split("\r\n")
    events, cur = [], None
    for line in unfolded:
        if line == "BEGIN:VEVENT":
            cur = {}
        elif line == "END:VEVENT":
            events.append(cur)
            cur = None
        elif cur is not None:
            k, v = line.split(":", 1)
            cur[k] = v
    assert unfolded[0] == "BEGIN:VCALENDAR" and unfolded[-2] == "END:VCALENDAR"
    assert len(events) == len(occ) and len({e["UID"] for e in events}) == len(events)
    starts = [datetime.strptime(e["DTSTART"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
              for e in events]
    assert starts == [o.when for o in occ]
    assert all("DTSTAMP" in e for e in events)
    assert "Feature freeze" in [e["SUMMARY"] for e in events]


def test_cli_calendar_formats(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    from tests.cli import relbot

    cal = tmp_path / "calendar.yml"
    cal.write_text("calendar:\n  timezone: Europe/Berlin\n  cycle_start: 2026-01-05\n")
    cfg = tmp_path / "relbot.yml"
    cfg.write_text("channel: C0RELEASES\ncalendar: {file: calendar.yml}\n")
    bare = {"PATH": "/usr/bin:/bin"}   # a bare environment: only the config decides

    def run(*args: str):  # type: ignore[no-untyped-def]
        return relbot("calendar", "--config", str(cfg), *args, cwd=tmp_path, env=bare,
                      replace_env=True)

    out = run("--from", "2026-03-23", "--weeks", "2", "--format", "yaml")
    assert out.returncode == 0, out.stderr
    events = yaml.safe_load(out.stdout)["events"]
    assert [e["name"] for e in events] == ["freeze", "rc", "release"]
    assert events[0]["when"] == "2026-03-23T09:00:00+01:00" and events[0]["stabilization"]
    text = run("--from", "2026-03-30", "--weeks", "3").stdout
    assert "Mon 2026-04-06 09:00 CEST" in text
    ics = run("--format", "ics", "--from", "2026-01-05").stdout   # as written: CRLF kept
    assert ics.startswith("BEGIN:VCALENDAR\r\n") and ics.count("BEGIN:VEVENT") == 12
    cal.write_text("cycle_start: 2026-01-06\n")
    bad = run()
    assert bad.returncode == 2
    assert "calendar.yml:1: cycle_start: cycle_start must be a Monday" in bad.stderr
    check = relbot("check-config", str(cfg), cwd=tmp_path, env=bare, replace_env=True)
    assert check.returncode == 1
    assert "calendar.yml:1: cycle_start: cycle_start must be a Monday" in check.stderr
