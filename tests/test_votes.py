"""Votes match what Slack shows (issue 11, item 3): event order, reactions.get before acting,
approval open before continuation messages, reconciliation at open and at start-up, and
votes with no open approval audited. Driven by signed Slack events into the real app."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.harness import Chat
from tests.test_foundation_approvals import kind_chat, open_request
from tests.test_sync_flow import config, plan_msg, setup_repos
from tests.test_sync_plan import make_remote, tree_hash


def _counted(chat: Chat, user: str) -> list:
    return [e for e in chat.audit("approval.counted") if e.actor == user]


def test_an_older_retried_reaction_added_after_the_removal_does_not_count(
        tmp_path: Path, make_chat) -> None:
    """Case 6: BOB's reaction_removed arrives, then Slack retries his earlier reaction_added
    (older event_time, X-Slack-Retry-Num: 1): the withdrawn approval must not count."""
    src, dst = setup_repos(tmp_path)
    before = tree_hash(dst)
    chat = make_chat(config(src, dst))
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    chat.react("U0CAROL", msg)                               # one approval of two
    added_at = time.time() - 5
    chat.api.state.react(msg.channel, msg.ts, "U0BOB", "white_check_mark")  # its delivery fails
    chat.unreact("U0BOB", msg, event_time=added_at + 2)       # delivered
    chat.react("U0BOB", msg, event_id="EvBOBADD", retry_num=1, event_time=added_at,
               record=False)                                  # Slack's retry of the add
    assert _counted(chat, "U0BOB") == []
    [ignored] = chat.audit("approval.ignored")
    assert ignored.actor == "U0BOB" and ignored.payload["event"] == "reaction_added"
    assert "later event" in ignored.payload["reason"]
    assert ignored.payload["evidence_id"] == plan_msg(chat).rendered.split()[1]
    assert "needs 1 more approval" in plan_msg(chat).rendered
    assert tree_hash(dst) == before and not chat.audit("sync.success")
    chat.react("U0BOB", msg)                                   # a real, newer add counts
    assert len(_counted(chat, "U0BOB")) == 1 and chat.audit("sync.success")


def test_quorum_is_rechecked_with_reactions_get_and_only_reactions_still_there_count(
        tmp_path: Path, make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    before = tree_hash(dst)
    chat = make_chat(config(src, dst))
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    chat.react("U0CAROL", msg)
    # CAROL takes her reaction back; the reaction_removed event is never delivered
    chat.api.state.react(msg.channel, msg.ts, "U0CAROL", "white_check_mark", removed=True)
    chat.react("U0BOB", msg)                                  # quorum by the events alone
    assert chat.api.calls("reactions.get")[-1].params["timestamp"] == msg.ts
    [revoked] = chat.audit("approval.revoked")
    assert revoked.actor == "U0CAROL" and revoked.payload["via"] == "reconciled"
    assert tree_hash(dst) == before and not chat.audit("sync.success")
    text = plan_msg(chat).rendered
    assert "<@U0BOB>" in text and "<@U0CAROL>" not in text and "needs 1 more" in text
    chat.react("U0CAROL", msg)                                # she approves again
    assert chat.audit("sync.success") and tree_hash(dst) != before


def test_the_approval_is_open_before_continuation_messages_post(tmp_path: Path,
                                                                 make_chat) -> None:
    """Case 5: a vote cast while a large dry-run is still posting its thread counts."""
    src = make_remote(tmp_path, "product", {f"docs/f{i:03}.md": f"{i}\n" for i in range(95)})
    dst = make_remote(tmp_path, "website", {"content/keep.txt": "k\n"})
    chat = make_chat(config(src, dst).replace("{delete: true}", "{delete: false}"))
    st = chat.api.state
    planning = threading.Thread(target=chat.sender.command, args=("U0ALICE",
                                                                  "/sync plan docs"))
    with st.changed:
        planning.start()
        st.changed.wait_for(lambda: any(m.text.startswith("Dry-run DR-") for m in st.messages),
                            timeout=30)
        st.faults.hang("chat.postMessage")   # the thread's chunks wait (lock held: none left)
    msg = plan_msg(chat)
    n_updates = len(chat.api.calls("chat.update"))
    chat.sender.react("U0BOB", msg, "white_check_mark")
    with st.changed:   # the vote's message update is the sign it was counted
        assert st.changed.wait_for(lambda: len(st.calls_of("chat.update")) > n_updates, 30)
    assert not [m for m in chat.thread(msg)]            # still posting its continuation
    st.faults.clear("chat.postMessage")
    planning.join(30)
    chat.local.wait_idle()
    assert len(chat.thread(msg)) >= 2                    # 95 changes: the rest in the thread
    # counted once: by its event, or by the reconcile at open when the outbox delivered the
    # message and Bob reacted before the planning thread finished opening (both are at once)
    [vote] = _counted(chat, "U0BOB")
    assert vote.payload.get("via") in ("reaction", "reconciled")
    assert not chat.audit("approval.refused")
    assert "<@U0BOB>" in plan_msg(chat).rendered and "needs 1 more" in plan_msg(chat).rendered


def test_a_vote_before_the_request_opens_is_audited_then_reconciled_at_open(make_chat
                                                                             ) -> None:
    chat = kind_chat(make_chat)
    ts = chat.svc.client.chat_postMessage(channel="C0RELEASES", text="Plan T-1")["ts"]
    early = chat.api.state.by_ts("C0RELEASES", ts)
    assert early is not None
    chat.react("U0ALICE", early)                          # no request on it yet
    [refused] = chat.audit("approval.refused")
    assert refused.payload["reason"] == "no approval is open on this message"
    assert refused.subject == f"message:C0RELEASES/{ts}"
    chat.react("U0ALICE", early, "eyes")                   # not a vote reaction: no entry
    assert len(chat.audit("approval.refused")) == 1
    seen = chat.svc.approvals.followers["test"]
    req = chat.svc.approvals.open(kind="test", subject="T-1", evidence_id="DR-T1",
                                  digest="ab" * 32, channel="C0RELEASES", ts=ts,
                                  requester="U0ERIN", policy=chat.svc.config.current.approval,
                                  approvers=("U0ALICE", "U0BOB"))
    state = chat.svc.approvals.opened(req)
    assert state is not None and [v.user for v in state.approved_by] == ["U0ALICE"]
    [vote] = _counted(chat, "U0ALICE")
    assert vote.payload["via"] == "reconciled" and vote.payload["evidence_id"] == "DR-T1"
    assert seen and seen[-1].needed == 1
    assert chat.svc.approvals.opened(req) is None         # nothing new: no second entry
    assert len(_counted(chat, "U0ALICE")) == 1


def test_votes_cast_while_relbot_was_down_are_counted_at_start_up(tmp_path: Path,
                                                                   make_chat) -> None:
    """Case 7: the reactions are on the message, their events were never delivered."""
    src, dst = setup_repos(tmp_path)
    before = tree_hash(dst)
    chat = make_chat(config(src, dst))
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    chat.react("U0CAROL", msg)
    chat.local.close(keep_api=True)                           # relbot stops
    chat.api.state.react(msg.channel, msg.ts, "U0BOB", "+1")   # BOB approves meanwhile
    chat.api.state.react(msg.channel, msg.ts, "U0DAVE", "+1")  # not an approver
    again = chat.restart()
    try:
        again.local.wait_idle()
        [vote] = _counted(again, "U0BOB")
        assert vote.payload["via"] == "reconciled" and vote.payload["reaction"] == "+1"
        [refused] = [e for e in again.audit("approval.refused") if e.actor == "U0DAVE"]
        assert refused.payload["via"] == "reconciled" and "not an approver" in \
            refused.payload["reason"]
        assert again.audit("sync.success") and tree_hash(dst) != before
    finally:
        again.close()


def test_a_reaction_on_a_closed_request_is_refused_with_the_reason(make_chat) -> None:
    chat = kind_chat(make_chat)
    msg, _ = open_request(chat)
    req = chat.svc.approvals.for_subject("test", "T-1")
    assert req is not None and chat.svc.approvals.transition(req.id, "open", "cancelled")
    said = chat.react("U0ALICE", msg)
    assert chat.audit("approval.refused")[-1].payload["reason"] == "request is cancelled"
    assert "was not counted: request is cancelled" in said.private[0].text


def test_a_manual_apply_rereads_the_reactions_first(tmp_path: Path, make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    before = tree_hash(dst)
    extra = "    approval: {quorum: 1}\n    options: {delete: true, auto_apply: false}\n"
    chat = make_chat(config(src, dst).replace("    options: {delete: true}\n", "") + extra)
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    pid = msg.rendered.split()[1]
    chat.react("U0BOB", msg)
    assert "/sync apply" in chat.thread(msg)[-1].rendered
    # BOB takes his reaction back; the reaction_removed event never arrives
    chat.api.state.react(msg.channel, msg.ts, "U0BOB", "white_check_mark", removed=True)
    said = chat.command("U0BOB", f"/sync apply {pid}")
    assert "needs 1 more approval" in said.text
    assert chat.audit("approval.revoked")[-1].payload["via"] == "reconciled"
    assert "needs 1 more approval" in plan_msg(chat).rendered      # the message says so too
    assert tree_hash(dst) == before
    chat.react("U0CAROL", msg)
    assert "success" in chat.command("U0BOB", f"/sync apply {pid}").text


def test_an_approval_withdrawn_before_apply_collects_votes_again(tmp_path: Path,
                                                                  make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    extra = "    approval: {quorum: 1}\n    options: {delete: true, auto_apply: false}\n"
    chat = make_chat(config(src, dst).replace("    options: {delete: true}\n", "") + extra)
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    pid = msg.rendered.split()[1]
    chat.react("U0BOB", msg)
    chat.unreact("U0BOB", msg)                      # withdrawn before anyone applied it
    assert chat.audit("approval.reopened")
    said = chat.react("U0CAROL", msg)               # was refused: "request is approved"
    assert not said.private and len(_counted(chat, "U0CAROL")) == 1
    assert "success" in chat.command("U0BOB", f"/sync apply {pid}").text


def test_a_vote_whose_message_update_cannot_be_queued_still_counts(tmp_path: Path,
                                                                  make_chat) -> None:
    """The vote row, its audit entry and the message update it queues are one transaction;
    when the update cannot be queued (here the database refuses outbox rows), that
    transaction is undone and the vote is recorded on its own: counted and audited, never
    lost with the message. The message shows it once the outbox takes rows again."""
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst))
    if chat.svc.db.dialect != "sqlite":
        pytest.skip("the refusing trigger is written for SQLite")
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    shown = msg.rendered
    chat.svc.db.conn().execute(
        "CREATE TRIGGER outbox_refuses BEFORE INSERT ON outbox "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    chat.react("U0CAROL", msg)
    [vote] = _counted(chat, "U0CAROL")
    assert vote.payload["via"] == "reaction" and plan_msg(chat).rendered == shown
    req = chat.svc.approvals.for_subject("sync", shown.split()[1])
    assert req is not None
    assert [v.user for v in chat.svc.approvals.state(req).approved_by] == ["U0CAROL"]
    chat.svc.db.conn().execute("DROP TRIGGER outbox_refuses")
    chat.unreact("U0CAROL", msg)
    chat.react("U0CAROL", msg)
    assert len(_counted(chat, "U0CAROL")) == 2
    assert "approved by: <@U0CAROL>" in plan_msg(chat).rendered
