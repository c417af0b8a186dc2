"""RB-PLN (approval by reaction, window, persistent schedule), partial, escalation, cancel."""

from __future__ import annotations

from pathlib import Path

from bot.clock import FakeClock
from tests.harness import Chat
from tests.rollback_fixtures import (
    GROUPS,
    PLANNED,
    approved_plan,
    edit_config,
    prepare,
    rb_message,
    rollback_chat,
    rollback_config,
    verified,
)


def test_planned_approval_then_scheduled_execution_across_restart(tmp_path: Path) -> None:
    clock = FakeClock("2026-11-24T09:00:00+00:00")
    chat = Chat(tmp_path, rollback_config(), clock=clock, groups=GROUPS)
    prepare(tmp_path)
    said = chat.command("U0ALICE", PLANNED)
    assert "severity low x impact minimal -> planned, 2 approval(s)" in said.text
    msg = rb_message(chat)
    assert "needs 2 more approvals" in msg.rendered
    assert ":hourglass_flowing_sand: 3. Approve — running" in msg.rendered
    chat.react("U0ALICE", msg)                      # the requester's own vote does not count
    assert chat.audit("approval.refused")[0].payload["evidence_id"] == "RB-0001"
    chat.react("U0BOB", msg)
    assert "needs 1 more approval" in rb_message(chat).rendered
    chat.react("U0CAROL", msg)                      # @release-managers member
    text = rb_message(chat).rendered
    assert "4. Schedule — done" in text
    assert "runs at 2026-11-24 22:00 CET (2026-11-24T21:00:00Z)" in text
    assert "*Window:* 2026-11-24 22:00 CET" in text
    assert "approved by: <@U0BOB>" in text and "): scheduled" in rb_message(chat).text
    counted = chat.audit("approval.counted")
    assert {e.payload["digest"] for e in counted} == \
        {chat.audit("rollback.declared")[0].payload["digest"]}
    assert not (tmp_path / "deployed.log").exists()
    clock.advance(hours=11, minutes=59)
    chat = chat.restart()           # a new bot process on the same SQLite file
    chat.run_due()
    assert not (tmp_path / "deployed.log").exists()
    clock.advance(minutes=1)
    chat.run_due()
    assert (tmp_path / "deployed.log").read_text() == "api 1.3.0 \n"
    text = rb_message(chat).rendered
    assert "6. Verify & document — done" in text and "*Status*: done" in text
    rec = verified(chat)
    assert [a["user"] for a in rec["approvals"]] == ["U0BOB", "U0CAROL"]
    evidence = chat.command("U0ALICE", "/rollback status RB-0001").text
    assert "approvals_required: 2" in evidence and "user: U0BOB" in evidence
    chat.close()


def test_cancel_before_execution(make_chat) -> None:
    chat = rollback_chat(make_chat)
    approved_plan(chat)
    assert any(j[1] == "rollback.execute" for j in chat.svc.scheduler.jobs())
    chat.command("U0BOB", "/rollback cancel RB-0001 fixed forward instead")
    assert "): cancelled" in rb_message(chat).text
    assert not any(j[1] == "rollback.execute" for j in chat.svc.scheduler.jobs())
    chat.clock.advance(hours=13)
    chat.run_due()
    assert not (chat.tmp / "deployed.log").exists()
    assert chat.audit("rollback.cancelled")[0].payload["reason"] == "fixed forward instead"
    said = chat.command("U0BOB", "/rollback cancel RB-0001")
    assert "RB-0001 is cancelled" in said.text
    # the product is free again for a new rollback
    assert verified(chat)["status"] == "cancelled"
    assert "RB-0002" in chat.command("U0ALICE", "/rollback api sev=4 impact=limited leak").text


def test_partial_rolls_back_only_named_components(make_chat) -> None:
    chat = rollback_chat(make_chat)
    said = chat.command("U0ALICE", "/rollback api sev=2 impact=limited components=db x")
    assert "components=db not in rollback.products.api.components (api, worker)" in said.text
    said = chat.command("U0ALICE", "/rollback api sev=2 impact=limited 500s from workers")
    assert "a partial rollback needs components=a,b (known: api, worker)" in said.text
    said = chat.command("U0ALICE", "/rollback api sev=2 impact=limited components=worker "
                                   "500s from workers")
    assert "-> partial, 1 approval(s)" in said.text
    msg = rb_message(chat)
    assert "*Components:* worker" in msg.rendered
    chat.react("U0BOB", msg)
    assert (chat.tmp / "deployed.log").read_text() == "api 1.3.0 worker\n"
    assert "): done" in rb_message(chat).text


def test_partial_runs_once_per_component_with_component_placeholder(make_chat) -> None:
    web = ('    web:\n      command: ["./deploy.sh", "{product}", "{version}", "{component}"]\n'
           '      components: [frontend, cdn, edge]\n')
    chat = rollback_chat(make_chat, rollback_config(product_extra=web))
    chat.command("U0ALICE", "/rollback web 2.1.0 sev=critical impact=limited to=2.0.0 "
                            "components=frontend,edge blank page")
    assert (chat.tmp / "deployed.log").read_text() == "web 2.0.0 frontend\nweb 2.0.0 edge\n"
    names = [e.payload["name"] for e in chat.audit("rollback.command")]
    assert names == ["rollback frontend", "rollback edge"]
    assert "Verify — skipped" in rb_message(chat).rendered  # no health_check configured


def test_escalation_to_oncall_after_five_minutes(make_chat) -> None:
    matrix = ("  matrix:\n    critical:\n"
              "      minimal: {type: immediate, approvals: 1, notify_oncall: true}\n")
    chat = rollback_chat(make_chat, rollback_config(rollback_extra=matrix))
    chat.command("U0ALICE", "/rollback api sev=critical impact=minimal checkout broken")
    msg = rb_message(chat)
    assert "no decision yet" in msg.rendered
    chat.clock.advance(minutes=4, seconds=59)
    chat.run_due()
    assert not chat.audit("rollback.escalated")
    chat.clock.advance(seconds=1)
    chat.run_due()
    [esc] = chat.audit("rollback.escalated")
    assert esc.payload["after_seconds"] == 300
    assert verified(chat)["decision"]["escalated"] == "2026-11-24T09:05:00Z"
    alarm = [m for m in chat.messages if m.rendered.startswith(":alarm_clock: RB-0001")]
    assert alarm and "no decision 5 minutes after declaration" in alarm[0].rendered
    assert "|@oncall>" in alarm[0].rendered and alarm[0].thread_ts is None
    chat.clock.advance(minutes=1)
    chat.react("U0BOB", msg)
    [dec] = chat.audit("rollback.decided")
    assert dec.payload["seconds"] == 360 and dec.payload["within_limit"] is False
    assert "decided 6m00s after declaration" in rb_message(chat).rendered
    assert (chat.tmp / "deployed.log").exists()


def test_no_escalation_when_decided_in_time(make_chat) -> None:
    matrix = ("  matrix:\n    critical:\n"
              "      minimal: {type: immediate, approvals: 1, notify_oncall: true}\n")
    chat = rollback_chat(make_chat, rollback_config(rollback_extra=matrix))
    chat.command("U0ALICE", "/rollback api sev=critical impact=minimal checkout broken")
    chat.clock.advance(minutes=2)
    chat.react("U0BOB", rb_message(chat))
    chat.clock.advance(minutes=10)
    chat.run_due()
    assert not chat.audit("rollback.escalated")
    assert chat.audit("rollback.decided")[0].payload["within_limit"] is True


def test_approved_plan_refuses_to_run_a_changed_command(make_chat) -> None:
    chat = rollback_chat(make_chat)
    approved_plan(chat)
    edit_config(chat, '"{components}"]', '"{components}", "--force"]')
    chat.clock.advance(hours=12)
    chat.run_due()
    assert not (chat.tmp / "deployed.log").exists()
    text = rb_message(chat).rendered
    assert "changed in the config since the plan was approved" in text
    assert "): failed" in rb_message(chat).text


def test_unapproved_plan_expires_and_frees_the_product(make_chat) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", "/rollback api sev=4 impact=limited slow memory leak")
    msg = rb_message(chat)
    chat.react("U0BOB", msg)
    chat.clock.advance(hours=24)
    chat.run_due()
    text = rb_message(chat).rendered
    assert ":x: 3. Approve — failed" in text and "approval expired at" in text
    assert "*Status*: expired" in text and chat.audit("rollback.expired")
    chat.react("U0CAROL", msg)               # too late: refused, nothing runs
    assert "expired" in chat.audit("approval.refused")[-1].payload["reason"]
    assert not (chat.tmp / "deployed.log").exists()
    assert "RB-0002" in chat.command("U0ALICE", "/rollback api sev=4 impact=limited leak").text


def test_expired_plan_says_nothing_when_its_window_comes(make_chat) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", "/rollback api sev=4 impact=limited at=2026-11-26T10:00 leak")
    chat.clock.advance(hours=24)
    chat.run_due()
    assert "*Status*: expired" in rb_message(chat).rendered
    chat.clock.advance(hours=30)             # past the window: no "the window has come"
    assert chat.run_due() == 0
    assert not [m for m in chat.api.state.messages if "has come" in m.text]


def test_console_advance_passes_time_through_the_window(tmp_path: Path) -> None:
    """`advance 13h` lets the clock pass 22:00 with the bot running: the approved plan runs
    at its window, it is not mistaken for a window missed while relbot was down."""
    import subprocess
    import sys

    prepare(tmp_path)
    (tmp_path / "relbot.yml").write_text(rollback_config())
    script = "\n".join([PLANNED, "group @release-managers U0CAROL", "as U0BOB",
                        "react white_check_mark 1", "as U0CAROL", "react white_check_mark 1",
                        "advance 13h", "quit"]) + "\n"
    r = subprocess.run([sys.executable, "-m", "bot", "console", "--config", "relbot.yml",
                        "--clock", "2026-11-24T09:00:00Z"], input=script, cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "passed while relbot was not running" not in r.stdout
    assert (tmp_path / "deployed.log").read_text() == "api 1.3.0 \n"
    assert "clock now 2026-11-24T22:00:00+00:00" in r.stdout
