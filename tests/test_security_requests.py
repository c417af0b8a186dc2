"""Issue 13: hostile but signed requests -- replays, nesting, size, long slash text, one
signature check."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from urllib.parse import urlencode, urlparse

from bot.http import MAX_BODY
from tests.harness import Chat
from tests.rollback_fixtures import rollback_chat

FORM = "application/x-www-form-urlencoded"
ROLLBACK = "api sev=1 impact=widespread to=1.3.0 bad deploy"


def _slash(user: str, command: str, text: str, trigger: str = "T-replay-1") -> str:
    return urlencode({"team_id": "T0RELBOT", "channel_id": "C0RELEASES", "user_id": user,
                      "command": command, "text": text, "trigger_id": trigger,
                      "response_url": ""})


def _signed(chat: Chat, body: bytes, ts: int | None = None) -> tuple[int, str]:
    ts = ts or int(time.time())
    mac = hmac.new(chat.local.signing_secret.encode(), b"v0:%d:" % ts + body,
                   hashlib.sha256).hexdigest()
    return ts, "v0=" + mac


def test_replayed_rollback_request_runs_no_second_rollback(make_chat) -> None:
    """Why-3: the identical signed /rollback request replayed 8 s later (same body, signature
    and timestamp) ran a second rollback."""
    chat = rollback_chat(make_chat)
    body = _slash("U0ALICE", "/rollback", ROLLBACK).encode()
    ts, sig = _signed(chat, body)
    first = chat.sender.post(body, FORM, timestamp=ts, signature=sig)
    chat.local.wait_idle()
    assert first.status == 200 and "RB-0001" in chat.svc.db.conn().execute(
        "SELECT group_concat(subject) FROM audit_log").fetchone()[0]
    chat.clock.advance(seconds=8)
    again = chat.sender.post(body, FORM, timestamp=ts, signature=sig)
    chat.local.wait_idle()
    assert again.status == 200 and again.body == ""
    n = chat.svc.db.conn().execute("SELECT COUNT(*) FROM rollbacks").fetchone()[0]
    assert n == 1
    [replay] = chat.audit("request.replay")
    assert (replay.actor, replay.subject, replay.payload["command"]) == (
        "U0ALICE", "T-replay-1", "/rollback")
    # the seen-set lives in the database: a restarted bot refuses it too (the stand-in
    # signs with a new secret per start: the same body, signed for it)
    chat2 = chat.restart()
    try:
        ts, sig = _signed(chat2, body, ts)
        assert chat2.sender.post(body, FORM, timestamp=ts, signature=sig).status == 200
        chat2.local.wait_idle()
        assert chat2.svc.db.conn().execute("SELECT COUNT(*) FROM rollbacks").fetchone()[0] == 1
        assert len(chat2.audit("request.replay")) == 2
    finally:
        chat2.close()


def test_replayed_interaction_is_ignored(make_chat) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", "/rollback " + ROLLBACK)
    msg = [m for m in chat.messages if m.rendered.startswith("== Rollback")][-1]
    block = next(b for b in msg.blocks if b.get("block_id", "").startswith("rollback-checklist"))
    payload = {"type": "block_actions", "user": {"id": "U0ALICE"}, "trigger_id": "T-act-1",
               "team": {"id": "T0RELBOT"},
               "container": {"type": "message", "message_ts": msg.ts, "channel_id": msg.channel},
               "channel": {"id": msg.channel}, "message": {"ts": msg.ts, "blocks": msg.blocks},
               "actions": [{"type": "checkboxes", "block_id": block["block_id"],
                            "action_id": block["elements"][0]["action_id"],
                            "selected_options": [{"value": "pre-1"}]}]}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts, sig = _signed(chat, body)
    chat.sender.post(body, FORM, timestamp=ts, signature=sig)
    chat.local.wait_idle()
    payload["actions"][0]["selected_options"] = []   # (same trigger, a different body)
    body2 = urlencode({"payload": json.dumps(payload)}).encode()
    ts2, sig2 = _signed(chat, body2)
    chat.sender.post(body2, FORM, timestamp=ts2, signature=sig2)
    chat.local.wait_idle()
    assert len(chat.audit("rollback.checklist")) == 1
    assert chat.audit("request.replay")[0].subject == "T-act-1"


def test_seen_triggers_are_bounded_by_the_replay_window(chat: Chat) -> None:
    from storage.replays import SeenTriggers

    seen = SeenTriggers(chat.svc.db)
    now = time.time()
    assert seen.first_time("a", now) and not seen.first_time("a", now + 1)
    assert seen.first_time("b", now + 2)
    assert seen.first_time("c", now + 11 * 60)  # a, b are past any valid signature: pruned
    assert seen.count() == 1


def test_100000_nested_brackets_get_400_not_a_dropped_connection(chat: Chat) -> None:
    """Why-5: RecursionError dropped the connection."""
    for body, ctype in ((b"[" * 100_000, "application/json"),
                        (urlencode({"payload": "[" * 100_000}).encode(), FORM),
                        (json.dumps({"event": {"a": "[" * 1000}, "type": "x"}).encode(),
                         "application/json")):
        ts, sig = _signed(chat, body)
        t0 = time.monotonic()
        res = chat.sender.post(body, ctype, timestamp=ts, signature=sig)
        assert time.monotonic() - t0 < 2
        if body.startswith(b"{"):  # brackets inside a string are not nesting
            assert res.status != 400, res.body  # (Bolt: no listener for it)
        else:
            assert res.status == 400 and "nested deeper than" in res.body, res.body


def test_oversized_body_gets_413_not_a_reset(chat: Chat) -> None:
    u = urlparse(chat.sender.bot_url)
    body = b"x" * (MAX_BODY + 100_000)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                  b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        assert s.recv(64).startswith(b"HTTP/1.1 413")


def test_900kb_slash_text_gets_an_ephemeral_error_within_the_ack(chat: Chat) -> None:
    """Why-7: a 900 kB slash command text was answered 404 (the ack missed 3 s)."""
    t0 = time.monotonic()
    said = chat.command("U0ALICE", "/release start " + "x" * 900_000)
    assert time.monotonic() - t0 < 3
    assert said.status == 200 and "characters long" in said.ack and "40,000" in said.ack
    [e] = chat.audit("command.usage")
    assert e.payload["length"] > 900_000 and len(e.payload["text"]) == 200


def test_signature_is_checked_once_before_bolt_within_five_minutes(chat: Chat) -> None:
    """Item 8: one check (relbot's, before Bolt), Slack's 5-minute window."""
    from slack_bolt.middleware import RequestVerification

    assert not any(isinstance(m, RequestVerification) for m in chat.local.app._middleware_list)
    body = _slash("U0ALICE", "/release", "help", trigger="T-w1").encode()
    ts, sig = _signed(chat, body, int(time.time()) - 4 * 60)
    assert chat.sender.post(body, FORM, timestamp=ts, signature=sig).status == 200
    body = _slash("U0ALICE", "/release", "help", trigger="T-w2").encode()
    ts, sig = _signed(chat, body, int(time.time()) - 5 * 60 - 5)
    assert chat.sender.post(body, FORM, timestamp=ts, signature=sig).status == 401
    ts, sig = _signed(chat, body)
    assert chat.sender.post(body + b"&x=1", FORM, timestamp=ts, signature=sig).status == 401
