"""Slack wiring: signed HTTP, malformed payloads, events, retry dedupe, commands, manifest."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode, urlparse

import pytest
import yaml

from bot.actions.kinds import APPROVAL_KINDS
from handlers import COMMANDS
from handlers.base import SubcommandSpec
from tests.harness import BASE_CONFIG, Chat

ROOT = Path(__file__).resolve().parent.parent
FORM = "application/x-www-form-urlencoded"


def test_signed_command_200_bad_signature_and_stale_timestamp_401(chat: Chat) -> None:
    body = urlencode({"command": "/release", "text": "help", "user_id": "U0ALICE",
                      "channel_id": "C0RELEASES", "team_id": "T0RELBOT"})
    assert chat.sender.post(body, FORM).status == 200
    assert chat.sender.post(body, FORM, signature="v0=" + "1" * 64).status == 401
    stale = int(time.time()) - 60 * 10
    assert chat.sender.post(body, FORM, timestamp=stale).status == 401
    chat.local.wait_idle()
    assert [e.actor for e in chat.audit("command")] == ["U0ALICE"]


@pytest.mark.parametrize("body,ctype", [
    (b"{not json", "application/json"),
    (b"\xff\xfe\x00garbage", "application/json"),
    (b"\xff\xfepayload=1", FORM),
    (json.dumps({"type": "event_callback", "event_id": "Ev1", "event": "nope"}).encode(),
     "application/json"),
    (json.dumps({"type": "event_callback", "event_id": "Ev2", "event": [1]}).encode(),
     "application/json"),
    (urlencode({"payload": json.dumps({"type": "block_actions", "actions": "x",
                                       "user": {"id": "U0ALICE"}})}).encode(), FORM),
    (urlencode({"payload": "{oops"}).encode(), FORM),
    (json.dumps([1, 2, 3]).encode(), "application/json"),
])
def test_malformed_signed_payloads_get_400_never_5xx(chat: Chat, body: bytes,
                                                      ctype: str) -> None:
    ts = str(int(time.time()))
    mac = hmac.new(chat.local.signing_secret.encode(), b"v0:" + ts.encode() + b":" + body,
                   hashlib.sha256).hexdigest()
    res = chat.sender.post(body, ctype, timestamp=int(ts), signature="v0=" + mac)
    assert res.status == 400, (res.status, res.body)


def test_other_odd_shapes_never_5xx(chat: Chat) -> None:
    for body in ({"type": "block_actions", "actions": [{"action_id": "nope"}],
                  "user": {"id": "U0ALICE"}},
                 {"type": "event_callback", "event_id": "Ev9", "event": {"type": "unknown"}},
                 {"type": "view_submission"}, {}):
        res = chat.sender.post(urlencode({"payload": json.dumps(body)}), FORM)
        assert res.status < 500, (body, res)
        res = chat.sender.post(json.dumps(body), "application/json")
        assert res.status < 500, (body, res)


def test_healthz_and_url_verification(chat: Chat) -> None:
    health = chat.sender.bot_url.replace("/slack/events", "/healthz")
    with urllib.request.urlopen(health, timeout=10) as resp:
        assert resp.status == 200
    res = chat.sender.post(json.dumps({"type": "url_verification", "challenge": "c-123",
                                       "token": "x"}), "application/json")
    assert res.status == 200 and "c-123" in res.body


def test_every_manifest_bot_event_has_a_listener(chat: Chat) -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert set(events) >= {"reaction_added", "reaction_removed", "app_home_opened"}
    for name in events:
        ev = {"type": name, "user": "U0BOB", "event_ts": f"{time.time():.6f}"}
        if name.startswith("reaction_"):
            ev.update(reaction="thumbsup", item={"type": "message", "channel": "C0RELEASES",
                                                 "ts": "1.000001"})
        if name == "app_home_opened":
            ev.update(tab="home", channel="D0HOME")
        said = chat.event(ev)
        assert said.status == 200, (name, said.http)


def test_app_home_opened_publishes_a_view(chat: Chat) -> None:
    chat.event({"type": "app_home_opened", "user": "U0BOB", "tab": "home",
                "channel": "D0HOME", "event_ts": "1.2"})
    assert [c.params["user_id"] for c in chat.api.calls("views.publish")] == ["U0BOB"]


def test_slack_retry_of_the_same_event_is_recorded_once(chat: Chat) -> None:
    msg_ts = chat.svc.client.chat_postMessage(channel="C0RELEASES", text="plan")["ts"]
    chat.svc.approvals.open(
        kind="test", subject="T-1", evidence_id="DR-T1", digest="d" * 64,
        channel="C0RELEASES", ts=msg_ts, requester="U0DAVE",
        policy=chat.svc.config.current.approval, approvers=("U0ALICE", "U0BOB"))
    msg = chat.api.state.by_ts("C0RELEASES", msg_ts)
    assert msg is not None
    first = chat.react("U0ALICE", msg, event_id="EvSAME")
    again = chat.react("U0ALICE", msg, event_id="EvSAME", retry_num=1)
    third = chat.react("U0ALICE", msg, event_id="EvSAME", retry_num=2)
    assert first.status == again.status == third.status == 200
    assert len(chat.audit("approval.counted")) == 1
    row = chat.svc.db.conn().execute(
        "SELECT COUNT(*) FROM seen_events WHERE event_id = 'EvSAME'").fetchone()
    assert row[0] == 1


# --- commands ----------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["/release", "/sync", "/rollback"])
def test_help_and_empty_answer_with_ephemeral_usage(chat: Chat, command: str) -> None:
    # an empty /rollback opens its form instead (tests/test_modals.py)
    texts = ("help",) if command == "/rollback" else ("help", "", "   ")
    for text in texts:
        said = chat.command("U0ALICE", f"{command} {text}")
        assert said.status == 200
        assert said.http.json["response_type"] == "ephemeral"
        assert command in said.ack and "Traceback" not in said.text
        assert said.posted == []
    entries = chat.audit("command")
    assert len(entries) == len(texts) and {e.subject for e in entries} == {command}
    assert all(e.actor == "U0ALICE" for e in entries)


@pytest.mark.parametrize("command", ["/release", "/sync"])
def test_unknown_subcommand_gets_usage(chat: Chat, command: str) -> None:
    said = chat.command("U0BOB", f"{command} frobnicate now")
    assert said.status == 200
    assert said.http.json["response_type"] == "ephemeral"
    assert "Unknown subcommand `frobnicate`" in said.ack
    assert f"`{command} help`" in said.ack
    assert "Traceback" not in said.text
    [entry] = chat.audit("command")
    assert entry.actor == "U0BOB" and entry.payload["text"] == "frobnicate now"


def test_rollback_unknown_text_never_a_traceback(chat: Chat) -> None:
    said = chat.command("U0BOB", "/rollback frobnicate ???")
    assert said.status == 200
    assert said.text and "Traceback" not in said.text
    assert chat.audit("command")


PERM_CONFIG = BASE_CONFIG + """\
permissions:
  release: [U0ALICE, "@release-managers"]
"""


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A test-only `/release probe` subcommand (gated by permissions.release)."""
    ran: list[str] = []

    def run(ctx: object) -> str:
        ran.append(ctx.cmd.user)  # type: ignore[attr-defined]
        return "probed"

    monkeypatch.setitem(COMMANDS["/release"].subcommands, "probe",
                        SubcommandSpec(run, "", "test probe"))
    return ran


def test_permission_refused_is_ephemeral_and_audited(make_chat: object,
                                                     probe: list[str]) -> None:
    chat: Chat = make_chat(PERM_CONFIG, groups={"release-managers": ["U0CAROL"]})  # type: ignore
    said = chat.command("U0BOB", "/release probe")
    assert said.status == 200 and said.http.json["response_type"] == "ephemeral"
    assert "limited to" in said.ack and "@release-managers" in said.ack
    assert probe == []
    [refused] = chat.audit("command.refused")
    assert refused.actor == "U0BOB" and "permissions.release" in refused.payload["reason"]

    said = chat.command("U0CAROL", "/release probe")       # member of @release-managers
    assert "probed" in said.text
    said = chat.command("U0ALICE", "/release probe")
    assert "probed" in said.text
    assert probe == ["U0CAROL", "U0ALICE"]
    ran = [e for e in chat.audit("command") if e.action == "command"]
    assert [e.actor for e in ran] == ["U0CAROL", "U0ALICE"]


# --- Web API client ----------------------------------------------------------------------

def test_429_with_retry_after_is_retried(chat: Chat) -> None:
    chat.api.state.fail_next("chat.postMessage", 429, headers={"Retry-After": "0"})
    res = chat.svc.client.chat_postMessage(channel="C0RELEASES", text="hello")
    assert res["ok"]
    assert len(chat.api.calls("chat.postMessage")) == 2
    assert [m.text for m in chat.messages] == ["hello"]


def test_secrets_are_scrubbed_from_messages_and_audit(chat: Chat) -> None:
    from handlers.base import post_message

    token = "xoxb-1234567890-abcdefghijkl"
    post_message(chat.svc, f"deploy with {token} done", None, "C0RELEASES")
    queued = chat.svc.db.conn().execute("SELECT body FROM outbox").fetchall()
    assert queued and all(token not in r[0] for r in queued)   # scrubbed before it is stored
    chat.wait()
    assert token not in chat.last().text and "[REDACTED]" in chat.last().text
    entry = chat.svc.audit.append("U0ALICE", "test", "x", {"note": f"used {token}",
                                                           "api_token": "hunter2hunter2"})
    raw = chat.svc.db.conn().execute("SELECT payload FROM audit_log WHERE seq = ?",
                                     (entry.seq,)).fetchone()[0]
    assert token not in raw and "hunter2" not in raw


def test_log_lines_mask_the_configured_secrets_too() -> None:
    import io
    import logging

    from bot.runner import ScrubbingFormatter

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    fmt = ScrubbingFormatter("%(levelname)s %(message)s")
    fmt.secrets = lambda: ("hunter2-secret-value",)   # what run_bot plugs in from the config
    handler.setFormatter(fmt)
    logger = logging.getLogger("relbot.test.scrub")
    logger.addHandler(handler)
    try:
        raise RuntimeError("deploy failed: password hunter2-secret-value rejected")
    except RuntimeError:
        logger.exception("rollback xoxb-1234567890-abcdefghijkl failed")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "hunter2" not in text and "xoxb-1234567890" not in text
    assert "password [REDACTED] rejected" in text and "Traceback" in text


# --- manifest ---------------------------------------------------------------------------

def test_manifest_validates_and_declares_what_the_bot_needs() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    schema_path = Path(__file__).resolve().parents[2] / "shared/slack/manifest.schema.1.0.0.json"
    if schema_path.exists():
        import jsonschema

        jsonschema.validate(manifest, json.loads(schema_path.read_text()))
    cmds = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(cmds) == {"/release", "/sync", "/rollback"}
    assert all(c.get("usage_hint") for c in cmds.values())
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "reaction_added", "reaction_removed", "app_home_opened"}
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert "commands" in manifest["oauth_config"]["scopes"]["bot"]
    if not schema_path.exists():
        pytest.skip(f"{schema_path} absent: schema validation skipped")


def test_negative_content_length_gets_400_not_a_dropped_connection(chat: Chat) -> None:
    import socket

    host, port = urlparse(chat.sender.bot_url).hostname, urlparse(chat.sender.bot_url).port
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n"
                  b"Content-Type: application/json\r\n\r\n{}")
        assert s.recv(64).startswith(b"HTTP/1.1 400")


def test_listener_fault_after_ack_is_logged_once_not_crashing_the_worker(
        chat: Chat, caplog: pytest.LogCaptureFixture) -> None:
    """A reaction event whose item is not an object is ignored; a failing listener after the
    ack is reported by our error handler, not by a Bolt assertion."""
    said = chat.event({"type": "reaction_added", "user": "U0BOB", "reaction": "+1",
                       "item": "not-an-object"})
    assert said.status == 200
    assert "AssertionError" not in caplog.text and "background task failed" not in caplog.text


def test_error_handler_after_ack_does_not_trip_bolt(make_chat,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    def boom(svc: object, state: object) -> None:
        raise RuntimeError("hook failed")

    chat = make_chat(approval_kinds={**APPROVAL_KINDS, "boom": boom})
    ts = chat.svc.client.chat_postMessage(channel="C0RELEASES", text="plan")["ts"]
    chat.svc.approvals.open(kind="boom", subject="B-1", evidence_id="DR-B1", digest="0" * 64,
                            channel="C0RELEASES", ts=ts, requester="U0DAVE",
                            policy=chat.svc.config.current.approval, approvers=("U0ALICE",))
    msg = chat.api.state.by_ts("C0RELEASES", ts)
    assert msg is not None
    said = chat.react("U0ALICE", msg)
    assert said.status == 200
    assert "unhandled error: RuntimeError" in caplog.text
    assert "AssertionError" not in caplog.text
    assert [e.actor for e in chat.audit("approval.counted")] == ["U0ALICE"]


@pytest.mark.parametrize("command", ["/release", "/sync", "/rollback"])
def test_malformed_text_gets_ephemeral_usage(chat: Chat, command: str) -> None:
    said = chat.command("U0ALICE", f'{command} "unterminated quote')
    assert said.status == 200
    assert said.text and "Traceback" not in said.text
    assert chat.audit("command")


def test_concurrent_appends_keep_one_unbroken_chain(chat: Chat) -> None:
    import threading

    def work(n: int) -> None:
        for i in range(40):
            chat.svc.audit.append(f"U{n}", "test", "x", {"i": i})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = chat.svc.audit.verify()
    assert result.ok and result.count == 320
