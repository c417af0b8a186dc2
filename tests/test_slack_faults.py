"""Issue 11, cases 1-4: Slack failures delay messages; they never block or lose a transition."""

from __future__ import annotations

from pathlib import Path

from bot.cadence.reminders import run_pending
from bot.clock import FakeClock
from tests.rollback_fixtures import rb_message, rollback_chat
from tests.test_cadence_reminders import CONFIG as CADENCE_CONFIG
from tests.test_sync_flow import config, plan_msg, setup_repos
from tests.test_sync_plan import tree_hash

RB_START = "/rollback api sev=1 impact=widespread error rate 40% after 1.4.0"


def _planned(make_chat, tmp_path: Path):  # type: ignore[no-untyped-def]
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst))
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    chat.react("U0BOB", msg)
    return chat, msg, dst


def _executed(chat, msg, dst, before: str) -> None:  # type: ignore[no-untyped-def]
    assert tree_hash(dst) != before
    assert chat.audit("sync.success")
    assert "done: target now at" in "\n".join(m.rendered for m in chat.thread(msg))
    pid = msg.rendered.split()[1]
    said = chat.command("U0ALICE", f"/sync status {pid}")
    assert f"{pid} (docs): done - target now" in said.text and "quorum" not in said.text
    assert "status: done (target now" in plan_msg(chat).rendered   # the message caught up


def test_case1_chat_update_500_at_the_quorum_vote_still_executes(make_chat, tmp_path) -> None:  # type: ignore[no-untyped-def]
    chat, msg, dst = _planned(make_chat, tmp_path)
    before = tree_hash(dst)
    chat.api.faults.fail("chat.update", 500)
    chat.react("U0CAROL", msg)                                 # the quorum vote
    assert chat.api.calls("chat.update")[0].params["ts"] == msg.ts
    _executed(chat, msg, dst, before)


def test_case1_chat_update_429_three_times_at_the_quorum_vote(make_chat, tmp_path) -> None:  # type: ignore[no-untyped-def]
    chat, msg, dst = _planned(make_chat, tmp_path)
    before = tree_hash(dst)
    n = len(chat.api.calls("chat.update"))
    chat.api.faults.fail("chat.update", 429, times=3, retry_after=0)
    chat.react("U0CAROL", msg)
    assert len(chat.api.calls("chat.update")) - n >= 4         # three 429s, then delivered
    _executed(chat, msg, dst, before)


def test_case2_one_post_500_at_an_immediate_rollback(make_chat) -> None:  # type: ignore[no-untyped-def]
    chat = rollback_chat(make_chat)
    chat.api.faults.fail("chat.postMessage", 500)
    said = chat.command("U0ALICE", RB_START)
    assert "RB-0001" in said.text and "Internal error" not in said.text
    assert (chat.tmp / "deployed.log").read_text() == "api 1.3.0 \n"   # the command ran
    text = rb_message(chat).rendered
    assert "*Status*: done" in text and ":white_check_mark: 6. Document — done" in text
    assert chat.api.calls("chat.postMessage")[0].params["text"].startswith("RB-0001")
    # nothing is stuck: the rollback can be resolved and the product unlocked
    said = chat.command("U0ALICE", "/rollback resolve RB-0001 fixed forward")
    assert "unlocked" in "\n".join(m.rendered for m in said.posted) + said.text
    said = chat.command("U0ALICE", RB_START)
    assert "RB-0002" in said.text


def test_case3_a_reminder_whose_post_fails_is_retried_not_lost(make_chat) -> None:  # type: ignore[no-untyped-def]
    chat = make_chat(CADENCE_CONFIG, clock=FakeClock("2026-01-12T07:59:00+00:00"))
    chat.clock.advance(minutes=1)
    chat.api.faults.fail("chat.postMessage", 500, times=2)
    assert run_pending(chat.svc) == ["reminder:stabilization:2026-01-12T09:00"]
    chat.wait()
    assert [m.text for m in chat.messages] == [
        "Stabilization week for the next release (major, cycle 1)."]
    assert len(chat.api.calls("chat.postMessage")) == 3
    assert run_pending(chat.svc) == []                          # and still posted only once
    chat.wait()
    assert len(chat.messages) == 1


def test_case3_a_failed_done_post_does_not_skip_what_follows(make_chat, tmp_path) -> None:  # type: ignore[no-untyped-def]
    chat, msg, dst = _planned(make_chat, tmp_path)
    before = tree_hash(dst)
    chat.api.faults.fail("chat.postMessage", 500)              # the first post after the vote
    chat.react("U0CAROL", msg)
    failed = chat.api.calls("chat.postMessage")[-1 - len(chat.thread(msg))]
    assert failed.params.get("thread_ts") == msg.ts
    _executed(chat, msg, dst, before)                          # sync log, status, message


def test_case4_a_slack_hang_while_a_dry_run_posts(make_chat, tmp_path) -> None:  # type: ignore[no-untyped-def]
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst))
    before = tree_hash(dst)
    delivery = chat.svc.outbox.delivery
    delivery.client.timeout = delivery.timeout = 0.5           # stands in for Slack's 30 s
    chat.api.faults.hang("chat.postMessage")
    said = chat.command("U0ALICE", "/sync plan docs")          # returns while Slack hangs
    assert "Internal error" not in said.text and "error" not in said.text.lower()
    assert chat.audit("sync.planned") and chat.messages == []
    assert chat.api.state.wait_for(lambda: len(chat.api.calls("chat.postMessage")) >= 2)
    chat.api.faults.clear()                                     # Slack is back
    chat.wait()
    msg = plan_msg(chat)
    assert "needs 2 more approvals" in msg.rendered
    chat.react("U0BOB", msg)
    chat.react("U0CAROL", msg)
    _executed(chat, msg, dst, before)
