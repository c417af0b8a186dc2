"""The durable outbox: order, coalescing, retries, Retry-After, restarts, two deliverers."""

from __future__ import annotations

import gc
import time
from pathlib import Path

from bot.clock import FakeClock
from bot.delivery import make_delivery
from bot.messages import message_key, post_message, slack_ts, update_message, upload_file
from bot.outbox import BACKOFF_CAP, Outbox, backoff
from storage.db import Database
from storage.outbox import OutboxStore
from tests.harness import Chat

CH = "C0RELEASES"


def _states(chat: Chat) -> list[tuple[str, str]]:
    rows = chat.svc.db.conn().execute("SELECT op, state FROM outbox ORDER BY id").fetchall()
    return [(r[0], r[1]) for r in rows]


def test_post_returns_a_key_at_once_and_slack_gets_it_after(chat: Chat) -> None:
    chat.svc.outbox.stop()
    key = post_message(chat.svc, "hello", None, CH)
    assert key.startswith("m-") and slack_ts(chat.svc, key) is None
    assert chat.messages == []                              # nothing sent yet
    chat.svc.outbox.start()
    chat.wait()
    [msg] = chat.messages
    assert msg.text == "hello" and slack_ts(chat.svc, key) == msg.ts
    assert _states(chat) == [("post", "sent")]


def test_updates_coalesce_into_the_latest_and_a_queued_post_carries_it(chat: Chat) -> None:
    chat.svc.outbox.stop()
    key = post_message(chat.svc, "v1", None, CH)
    for v in ("v2", "v3", "v4"):
        update_message(chat.svc, CH, key, v)
    chat.svc.outbox.start()
    chat.wait()
    assert [m.text for m in chat.messages] == ["v4"]
    assert len(chat.api.calls("chat.postMessage")) == 1 and chat.api.calls("chat.update") == []
    assert chat.svc.outbox.store.counts() == {"sent": 1, "superseded": 3}  # the post covered them

    chat.svc.outbox.stop()                                  # now the message is in Slack
    for v in ("v5", "v6", "v7"):
        update_message(chat.svc, CH, key, v)
    assert chat.svc.outbox.store.counts()["pending"] == 1   # each update supersedes the last
    chat.svc.outbox.start()
    chat.wait()
    assert [c.params["text"] for c in chat.api.calls("chat.update")] == ["v7"]
    assert chat.messages[0].text == "v7"
    assert chat.svc.outbox.store.counts() == {"sent": 2, "superseded": 5}


def test_replies_wait_for_their_parent_and_keep_their_order(chat: Chat) -> None:
    chat.api.faults.fail("chat.postMessage", 500, times=2)
    parent = post_message(chat.svc, "parent", None, CH)
    for i in range(3):
        post_message(chat.svc, f"reply {i}", None, CH, thread_ts=parent)
    chat.wait()
    [p, *replies] = chat.messages
    assert p.text == "parent" and [r.text for r in replies] == ["reply 0", "reply 1", "reply 2"]
    assert all(r.thread_ts == p.ts for r in replies)
    assert len(chat.api.calls("chat.postMessage")) == 6     # two 500s, then four posts


def test_retry_after_is_honoured(chat: Chat) -> None:
    key = post_message(chat.svc, "v1", None, CH)
    chat.wait()
    chat.api.faults.fail("chat.update", 429, retry_after=1)
    update_message(chat.svc, CH, key, "v2")
    chat.wait()
    first, second = chat.api.calls("chat.update")
    assert second.at - first.at >= 1.0
    assert chat.messages[0].text == "v2"


def test_backoff_doubles_up_to_a_cap_and_retry_after_wins() -> None:
    assert [backoff(n, None) for n in range(3)] == [0.2, 0.4, 0.8]
    assert backoff(30, None) == BACKOFF_CAP
    assert backoff(0, 7) == 7 and backoff(5, 0) == 0


def test_a_permanent_error_fails_the_message_its_replies_and_updates_only(chat: Chat) -> None:
    bad = post_message(chat.svc, "to nowhere", None, "")     # channel_not_found
    post_message(chat.svc, "reply", None, "", thread_ts=bad)
    update_message(chat.svc, "", bad, "edited")
    post_message(chat.svc, "fine", None, CH)
    chat.wait()
    assert [m.text for m in chat.messages] == ["fine"]
    assert sorted(_states(chat)) == [("post", "failed"), ("post", "failed"), ("post", "sent"),
                                     ("update", "failed")]


def test_queued_messages_survive_a_restart(make_chat) -> None:  # type: ignore[no-untyped-def]
    chat = make_chat()
    chat.api.faults.fail("chat.postMessage", 503, times=None)
    post_message(chat.svc, "during an outage", None, CH)
    assert chat.api.state.wait_for(lambda: len(chat.api.calls("chat.postMessage")) >= 1)
    chat.wait()
    assert chat.messages == [] and _states(chat) == [("post", "pending")]
    chat.api.faults.clear()
    chat2 = chat.restart()
    try:
        assert [m.text for m in chat2.messages] == ["during an outage"]
        assert len([c for c in chat2.api.calls("chat.postMessage")]) >= 2
    finally:
        chat2.close()


def test_two_deliverers_on_one_database_send_each_row_once(chat: Chat) -> None:
    chat.svc.outbox.stop()
    keys = [post_message(chat.svc, f"m{i}", None, CH) for i in range(20)]
    for k in keys:
        update_message(chat.svc, CH, k, f"{k} edited")
    other = Outbox(OutboxStore(Database(chat.db_path)), FakeClock("2026-11-24T09:00:00Z"),
                   make_delivery("xoxb-other", chat.api.url))
    other.start()
    chat.svc.outbox.start()
    try:
        # each deliverer leaves the other's calls in flight alone: wait for the table
        store = chat.svc.outbox.store
        for _ in range(100):
            if chat.api.state.wait_for(lambda: store.counts().get("pending", 0) == 0, 0.2):
                break
        assert store.counts().get("pending", 0) == 0
    finally:
        other.stop()
    assert len(chat.api.calls("chat.postMessage")) == 20
    assert sorted(m.text for m in chat.messages) == sorted(f"{k} edited" for k in keys)
    assert len(chat.api.calls("chat.update")) <= 20


def test_a_hang_longer_than_the_client_timeout_is_retried(chat: Chat) -> None:
    delivery = chat.svc.outbox.delivery
    delivery.client.timeout = delivery.timeout = 0.5       # stands in for Slack's 30 s
    chat.api.faults.hang("chat.postMessage")
    post_message(chat.svc, "patient", None, CH)
    # the first call times out on the client and is retried (and hangs again)
    assert chat.api.state.wait_for(lambda: len(chat.api.calls("chat.postMessage")) >= 2)
    chat.api.faults.clear()
    chat.wait()
    assert [m.text for m in chat.messages] == ["patient"]   # the timed-out call was dropped
    assert chat.api.calls("chat.postMessage")[0].dropped


def test_a_killed_deliverers_rows_go_out_when_its_lease_lapses(chat: Chat) -> None:
    chat.svc.outbox.stop()
    post_message(chat.svc, "half sent", None, CH)
    [op] = chat.svc.outbox.store.pending()
    now = time.time()      # a process killed mid-call leaves its lease; it lapses in 0.5 s
    assert chat.svc.outbox.store.lease(op.id, "killed-process", now, now + 0.5)
    chat.svc.outbox.start()
    chat.wait()            # waits for the other deliverer's lease, then sends the row
    assert [m.text for m in chat.messages] == ["half sent"]


def test_a_refused_files_fallback_joins_its_thread_without_a_second_key(chat: Chat) -> None:
    parent = post_message(chat.svc, "parent", None, CH)
    chat.wait()
    ts = slack_ts(chat.svc, parent)
    chat.api.faults.fail("files.getUploadURLExternal", 200, error="missing_scope")
    chat.svc.outbox.stop()   # both queued before the upload is tried (else a race under load)
    upload_file(chat.svc, CH, parent, "changes.txt", "a\nb", "All changes",
                fallback=["Could not upload changes.txt ({error})", "a\nb"])
    post_message(chat.svc, "after the file", None, CH, thread_ts=parent)
    chat.svc.outbox.start()
    chat.wait()
    # the fallback goes into the parent's thread, in its stream (after what was queued there)
    assert [m.text for m in chat.thread(chat.messages[0])] == [
        "after the file", "Could not upload changes.txt (HTTP 200 missing_scope)", "a\nb"]
    # Slack's ts of the parent stays the key of one message: the fallback replies were queued
    # under the parent's key, not under its Slack ts as a second "message" of the same ts
    rows = chat.svc.db.conn().execute(
        "SELECT key FROM outbox_messages WHERE channel = ? AND ts = ?", (CH, ts)).fetchall()
    assert [r[0] for r in rows] == [parent]
    assert message_key(chat.svc, CH, ts) == parent
    assert {m.thread_ts for m in chat.thread(chat.messages[0])} == {ts}


def test_an_update_by_slack_ts_is_one_more_update_of_the_same_message(chat: Chat) -> None:
    key = post_message(chat.svc, "v1", None, CH)
    chat.wait()
    ts = slack_ts(chat.svc, key)
    assert ts is not None
    chat.svc.outbox.stop()
    update_message(chat.svc, CH, key, "v2")
    update_message(chat.svc, CH, ts, "v3")          # e.g. from an inbound event's ts
    chat.svc.outbox.start()
    chat.wait()
    assert [c.params["text"] for c in chat.api.calls("chat.update")] == ["v3"]   # coalesced
    assert message_key(chat.svc, CH, ts) == key
    assert chat.svc.db.conn().execute("SELECT COUNT(*) FROM outbox_messages").fetchone()[0] == 1


def test_deliveries_keep_their_threads_and_database_connections(chat: Chat) -> None:
    """Each delivery runs on a kept thread: a thread per call opened (and SQLite parsed the
    schema on) a new database connection every time, and left its file descriptors open."""
    def fds() -> int:
        return len(list(Path("/proc/self/fd").iterdir()))

    chat.wait()
    before = fds()
    for i in range(30):
        post_message(chat.svc, f"m{i}", None, CH)
        chat.wait()
    gc.collect()
    assert [m.text for m in chat.messages][-30:] == [f"m{i}" for i in range(30)]
    assert fds() - before < 10
