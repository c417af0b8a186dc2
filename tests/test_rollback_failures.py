"""What goes wrong in real life: faults mid-step, a Slack outage while streaming, a second
rollback taking over the lock, late approvals, expired or cancelled config dry-runs."""

from __future__ import annotations

import threading
from pathlib import Path

from bot.rollback import commands as cmds
from tests.rollback_fixtures import (
    PLANNED,
    approved_plan,
    config_sync_config,
    edit_config,
    rb_message,
    rollback_chat,
    rollback_config,
    verified,
)
from tests.test_rollback_config import _deployed, _repos

START = "/rollback api sev=1 impact=widespread error rate 40% after 1.4.0"


def test_a_fault_mid_step_stops_the_rollback_instead_of_leaving_it_running(make_chat) -> None:
    chat = rollback_chat(make_chat)
    approved_plan(chat)
    # the product disappears from the config before the window
    edit_config(chat, "    api:\n      command", "    web:\n      command")
    chat.clock.advance(hours=12)             # 22:00 Berlin: the window
    chat.run_due()
    text = rb_message(chat).rendered
    assert "*Status*: failed" in text and "5. Execute — failed" in text
    assert "internal error (NotFound" in text
    chat.command("U0ALICE", "/rollback abort RB-0001 product was renamed to web.")
    assert "*Status*: aborted" in rb_message(chat).rendered
    assert [m for m in chat.messages if m.thread_ts is None and m.rendered.startswith(
        ":heavy_minus_sign: <@U0ALICE> aborted RB-0001 (api): product was renamed to web.")]
    assert not [m for m in chat.messages if ".." in m.rendered]


def test_streaming_failure_never_stops_the_command(tmp_path: Path) -> None:
    calls = []

    def broken(line: str) -> None:
        calls.append(line)
        raise ConnectionError("slack is down")

    script = "for i in $(seq 1 20000); do echo line $i; done"
    res = cmds.run("rollback", ["sh", "-c", script], tmp_path, 30, lambda: "t", (), broken)
    assert res.ok and res.output_lines == 20000 and calls == ["line 1"]
    assert res.tail.endswith("line 20000")


def test_a_newer_rollback_takes_over_the_lock(make_chat) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", START)
    first = rb_message(chat)
    chat.command("U0ALICE", "/rollback api 1.3.0 sev=1 impact=widespread still broken")
    assert "RB-0002" in rb_message(chat).rendered
    assert "lock was taken over by RB-0002" in chat.api.state.message(first.number).rendered
    said = chat.command("U0ALICE", "/rollback resolve RB-0001 fixed")
    assert "RB-0002 holds its lock now" in said.text
    chat.command("U0ALICE", "/rollback resolve RB-0002 fixed in 1.4.1")
    assert chat.svc.locks.frozen("api") is None
    older = chat.api.state.message(first.number).rendered      # the first one says so too
    assert "taken over" not in older and "unlocked" in older
    assert "lifted with RB-0002: fixed in 1.4.1" in older
    assert verified(chat, "RB-0001")["lock"]["lifted_by"] == "U0ALICE"


def test_approval_after_the_window_does_not_run_outside_it(make_chat) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", PLANNED)
    msg = rb_message(chat)
    chat.react("U0BOB", msg)
    chat.clock.advance(hours=14)                      # 23:00 Berlin: the window has passed
    chat.run_due()
    [late] = [m for m in chat.messages if m.thread_ts is None and m.rendered.startswith(
        ":hourglass: RB-0001: the window 2026-11-24 22:00 CET")]
    assert "needs 1 more approval" in late.rendered
    chat.react("U0CAROL", msg)
    text = rb_message(chat).rendered
    assert "4. Schedule — failed" in text and "approved only after its window" in text
    assert not (chat.tmp / "deployed.log").exists()
    chat.command("U0BOB", "/rollback retry RB-0001")
    assert (chat.tmp / "deployed.log").read_text() == "api 1.3.0 \n"


def test_refused_tick_is_put_back_in_slack(make_chat) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", START)
    before = len(chat.api.calls("chat.update"))
    chat.tick("U0CAROL", rb_message(chat), "rollback:checklist:pre", ["pre-1"])
    assert len(chat.api.calls("chat.update")) == before + 1   # the unticked view, re-sent


def test_concurrent_ticks_both_land(make_chat) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", START)
    msg = rb_message(chat)
    gate = threading.Barrier(2)

    def tick(user: str, item: str) -> None:
        gate.wait()
        chat.sender.tick(user, msg, "rollback:checklist:post", [item])

    ts = [threading.Thread(target=tick, args=a) for a in (("U0ALICE", "post-1"),
                                                         ("U0BOB", "post-2"))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    chat.local.wait_idle()
    # both clicked on the same (stale) view; each click changes only its own box
    state = chat.svc.rollbacks.get(1).record.checklists["post"]
    assert {k: v.by for k, v in state.items()} == {"post-1": "U0ALICE", "post-2": "U0BOB"}
    assert len(chat.audit("rollback.checklist")) == 2
    assert "*Post-rollback checklist* (2/5)" in rb_message(chat).rendered


def test_bad_to_and_components_are_refused_before_anything_runs(make_chat) -> None:
    chat = rollback_chat(make_chat)
    said = chat.command("U0ALICE", "/rollback api sev=1 impact=widespread to=--force x")
    assert "to='--force' must be a version like 1.3.0" in said.text
    said = chat.command("U0ALICE", "/rollback api sev=1 impact=widespread components=a;b x")
    assert "a component is a name" in said.text
    assert not chat.audit("rollback.declared")


def test_config_rollback_dry_run_expiry_and_cancel(tmp_path: Path, make_chat) -> None:
    src, dst = _repos(tmp_path)
    chat = rollback_chat(make_chat, config_sync_config(src, dst, "{quorum: 1, expires: 1h}"))
    start = "/rollback api sev=3 impact=limited type=config to=v1.3.0 pool too big"
    chat.command("U0ALICE", start)
    chat.clock.advance(hours=1, minutes=1)
    chat.run_due()
    assert "*Status*: expired" in rb_message(chat).rendered
    assert chat.audit("rollback.expired")
    # a new one, cancelled: its dry-run is cancelled too, so a late approval applies nothing
    chat.command("U0ALICE", start)
    dry = [m for m in chat.messages if m.rendered.startswith("Dry-run DR-")][-1]
    chat.command("U0ALICE", "/rollback cancel RB-0002 wrong ref")
    dry = chat.api.state.message(dry.number)
    assert "react with" not in dry.rendered and "cancelled" in dry.rendered
    assert "3. Approve — skipped" in rb_message(chat).rendered      # not left "running"
    chat.react("U0BOB", dry)
    assert _deployed(tmp_path, dst) == "db:\n  pool: 20\n"
    assert "request is cancelled" in chat.audit("approval.refused")[-1].payload["reason"]


def test_conflicting_or_forward_requests_are_refused(make_chat) -> None:
    chat = rollback_chat(make_chat)
    said = chat.command("U0ALICE", "/rollback api sev=1 severity=low impact=widespread x")
    assert "severity=low and sev=1 disagree" in said.text
    said = chat.command("U0ALICE", "/rollback api 1.4.0 sev=1 impact=widespread to=1.5.0 x")
    assert "to=1.5.0 is not older than 1.4.0" in said.text
    said = chat.command("U0ALICE", "/rollback api 1.4.0 sev=1 impact=widespread to=1.4.0 x")
    assert "is not older than" in said.text
    assert not (chat.tmp / "deployed.log").exists() and not chat.audit("rollback.declared")
    chat.command("U0ALICE", "/rollback api sev=4 impact=limited slow")
    said = chat.command("U0ALICE", "/rollback resolve RB-0001 fixed")
    assert "nothing ran and nothing is locked; `/rollback cancel RB-0001`" in said.text


def test_a_withdrawn_approval_stops_a_scheduled_rollback(make_chat) -> None:
    chat = rollback_chat(make_chat)
    msg = approved_plan(chat)
    chat.unreact("U0CAROL", msg)
    text = rb_message(chat).rendered
    assert "*Status*: awaiting-approval" in text
    assert ("3. Approve — running" in text and "approval withdrawn: needs 1 more approval from "
            "@release-managers other than <@U0ALICE>") in text     # Bob's vote still stands
    assert "4. Schedule — pending" in text
    assert chat.audit("rollback.approval_withdrawn")[0].payload["approvals"] == ["U0BOB"]
    assert not any(j[1] == "rollback.execute" for j in chat.svc.scheduler.jobs())
    assert [a["user"] for a in verified(chat)["approvals"]] == ["U0BOB"]
    chat.react("U0CAROL", msg)                       # approved again: scheduled again
    assert "*Status*: scheduled" in rb_message(chat).rendered
    chat.clock.advance(hours=12)
    chat.run_due()
    assert (chat.tmp / "deployed.log").read_text() == "api 1.3.0 \n"
    assert "*Status*: done" in rb_message(chat).rendered
    assert [a["user"] for a in verified(chat)["approvals"]] == ["U0BOB", "U0CAROL"]


def test_a_window_missed_while_relbot_was_down_waits_for_a_human(make_chat) -> None:
    chat = rollback_chat(make_chat)
    approved_plan(chat)
    chat = chat.restart()
    chat.clock.advance(hours=23)                     # back up the next morning
    chat.run_due()
    assert not (chat.tmp / "deployed.log").exists()
    text = rb_message(chat).rendered
    assert "*Status*: failed" in text and "4. Schedule — failed" in text
    assert "its window 2026-11-24 22:00 CET passed while relbot was not running" in text
    chat.command("U0ALICE", "/rollback retry RB-0001")
    assert (chat.tmp / "deployed.log").exists()
    assert "*Status*: done" in rb_message(chat).rendered


def test_a_withdrawal_after_execution_started_does_not_block_retry(make_chat) -> None:
    chat = rollback_chat(make_chat)
    (chat.tmp / "fail").write_text("")
    msg = approved_plan(chat)
    chat.clock.advance(hours=12)
    chat.run_due()
    assert "5. Execute — failed" in rb_message(chat).rendered
    chat.unreact("U0CAROL", msg)
    assert [m for m in chat.thread(msg) if "withdrawn after it had started executing; that "
            "does not stop it" in m.rendered]
    assert chat.audit("rollback.approval_withdrawn_late")
    (chat.tmp / "fail").unlink()
    chat.command("U0ALICE", "/rollback retry RB-0001")
    assert "*Status*: done" in rb_message(chat).rendered
    assert verified(chat)["status"] == "done"


def test_a_withdrawal_after_the_approval_window_gets_a_fresh_one(make_chat) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", "/rollback api sev=4 impact=minimal at=2026-11-27T22:00 leak")
    msg = rb_message(chat)
    chat.react("U0BOB", msg)
    chat.react("U0CAROL", msg)
    chat.clock.advance(hours=30)                    # past the 24h approval window
    chat.unreact("U0CAROL", msg)
    [reopened] = chat.audit("approval.reopened")
    assert reopened.payload["expires"] == "2026-11-26T15:00:00Z"     # now + 24h
    chat.react("U0CAROL", msg)                      # counts: approved and scheduled again
    assert "*Status*: scheduled" in rb_message(chat).rendered
    chat.clock.advance(hours=54)                    # 2026-11-27 22:00 Berlin
    chat.run_due()
    assert "*Status*: done" in rb_message(chat).rendered
    assert [a["user"] for a in verified(chat)["approvals"]] == ["U0BOB", "U0CAROL"]


def test_the_approval_line_says_when_nobody_is_left_to_approve(make_chat) -> None:
    config = rollback_config().replace('approvers: [U0ALICE, U0BOB, "@release-managers"]',
                                       "approvers: [U0ALICE, U0BOB]")
    chat = rollback_chat(make_chat, config)
    chat.command("U0ALICE", "/rollback api sev=4 impact=minimal slow leak")
    chat.react("U0BOB", rb_message(chat))
    assert ("needs 1 more approval, but every listed approver has voted or is the requester"
            in rb_message(chat).rendered)
