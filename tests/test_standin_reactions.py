"""The Slack stand-in keeps reactions on messages and serves them as ``reactions.get`` does."""

from __future__ import annotations

from tests.harness import Chat


def test_reactions_from_tests_are_on_the_message_and_served_by_reactions_get(chat: Chat
                                                                               ) -> None:
    ts = chat.svc.client.chat_postMessage(channel="C0RELEASES", text="Plan T-1")["ts"]
    msg = chat.api.state.by_ts("C0RELEASES", ts)
    assert msg is not None
    resp = chat.svc.client.reactions_get(channel="C0RELEASES", timestamp=ts, full=True)
    assert resp["message"]["ts"] == ts and "reactions" not in resp["message"]
    chat.react("U0ALICE", msg, "white_check_mark")
    chat.react("U0BOB", msg, ":white_check_mark:")
    chat.react("U0BOB", msg, "+1")
    chat.unreact("U0ALICE", msg, "white_check_mark")
    resp = chat.svc.client.reactions_get(channel="C0RELEASES", timestamp=ts, full=True)
    assert resp["type"] == "message" and resp["channel"] == "C0RELEASES"
    assert resp["message"]["reactions"] == [
        {"name": "white_check_mark", "users": ["U0BOB"], "count": 1},
        {"name": "+1", "users": ["U0BOB"], "count": 1}]
    # a retried delivery (record=False) does not change what Slack shows
    chat.react("U0ALICE", msg, "white_check_mark", record=False, retry_num=1)
    assert msg.reactions == {"white_check_mark": ["U0BOB"], "+1": ["U0BOB"]}
    missing = chat.api.handle("reactions.get", {"channel": "C0RELEASES", "timestamp": "1.2"})
    assert missing == {"ok": False, "error": "message_not_found"}
