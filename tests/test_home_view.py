"""App Home: app_home_opened -> views.publish with cycle, milestones, releases, approvals."""

from __future__ import annotations

import os
from pathlib import Path

from bot.cadence.reminders import run_pending
from bot.clock import FakeClock
from bot.configbase import ApprovalPolicy
from bot.render.common import blocks_to_text
from storage.release import ReleaseStore
from tests.harness import BASE_CONFIG

GOLDEN = Path(__file__).parent / "golden" / "cadence"
CONFIG = BASE_CONFIG + """\
calendar:
  cycle_start: 2026-01-05
  reminders:
    - id: release-day
      at: release
      text: "Release day for {version} (step {step}, failing: {failing_checks}); {approvers}."
"""


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    assert text + "\n" == path.read_text(), f"{path} differs (UPDATE_GOLDEN=1 to refresh)"


def _open(chat):  # type: ignore[no-untyped-def]
    chat.event({"type": "app_home_opened", "user": "U0BOB", "tab": "home",
                "channel": "D0HOME", "event_ts": "1.2"})
    calls = chat.api.calls("views.publish")
    assert calls and calls[-1].params["user_id"] == "U0BOB"
    view = calls[-1].params["view"]
    if isinstance(view, str):
        import json
        view = json.loads(view)
    assert view["type"] == "home"
    return blocks_to_text(view["blocks"])


def test_home_shows_cycle_milestones_releases_and_waiting_approvals(make_chat) -> None:  # type: ignore[no-untyped-def]
    chat = make_chat(CONFIG, clock=FakeClock("2026-01-13T10:00:00+00:00"))
    with chat.svc.db.tx():      # a release at RC: its row and its action (the status)
        rid = ReleaseStore(chat.svc.db).create("api", "2.0.0", "major", "RC", "U0ALICE",
                                               "abc123", "2026-01-13T09:00:00Z",
                                               {"RL-01": "fail", "RL-02": "pass"})
        chat.svc.actions.create("release", str(rid), "RC", exclusive="release:api")
    ts = chat.svc.client.chat_postMessage(channel="C0RELEASES", text="sync plan")["ts"]
    chat.svc.approvals.open(kind="sync", subject="docs", evidence_id="EV-1", digest="d",
                            channel="C0RELEASES", ts=ts, requester="U0ALICE",
                            policy=ApprovalPolicy(), approvers=("U0BOB",))
    text = _open(chat)
    check_golden("home.txt", text)
    assert "stabilization week: yes" in text
    assert "api 2.0.0: step RC" in text and "sync docs" in text

    # a reminder mentions the release in flight
    chat.clock.set(chat.clock.now().replace(day=15, hour=13, minute=0))
    run_pending(chat.svc)
    chat.wait()
    assert chat.last().text == ("Release day for 2.0.0 (step RC, failing: RL-01); "
                                "U0ALICE, U0BOB, @release-managers.")


def test_home_without_calendar(chat) -> None:  # type: ignore[no-untyped-def]
    text = _open(chat)
    assert "No release calendar configured." in text
    assert "*Active releases*\nnone" in text or "Active releases" in text


def test_home_never_cuts_waiting_plans_silently(chat) -> None:  # type: ignore[no-untyped-def]
    for i in range(61):
        ts = chat.svc.client.chat_postMessage(channel="C0RELEASES", text=f"plan {i}")["ts"]
        chat.svc.approvals.open(kind="sync", subject=f"DR-{i:03}", evidence_id=f"DR-{i:03}",
                                digest="d", channel="C0RELEASES", ts=ts, requester="U0ALICE",
                                policy=ApprovalPolicy(), approvers=("U0BOB",))
    text = _open(chat)
    assert text.count("• sync DR-") == 20
    assert "20 of 61 shown — `/sync waiting` lists every waiting sync plan" in text
    first = chat.command("U0BOB", "/sync waiting").text
    assert "61 sync plans waiting for approval (oldest first), page 1 of 2" in first
    assert "`/sync waiting 2` for the next page" in first
    second = chat.command("U0BOB", "/sync waiting 2").text
    listed = first + second
    assert all(f"• DR-{i:03} requested by <@U0ALICE>" in listed for i in range(61))
    assert "not a page number" in chat.command("U0BOB", "/sync waiting x").text
