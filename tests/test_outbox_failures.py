"""Messages Slack refuses for good are audited, counted, listed and retried (issue 11 item 2)."""

from __future__ import annotations

import json
import subprocess

import pytest

from bot.messages import post_message, update_message
from storage.outbox import ORPHANED
from tests.cli import relbot
from tests.harness import Chat

CH = "C0RELEASES"


def _failed(chat: Chat) -> list[tuple[str, str, str, str]]:
    return [(e.subject, e.payload["method"], e.payload["channel"], e.payload["error"])
            for e in chat.audit("outbox.failed")]


def _relbot(chat: Chat, *args: str) -> subprocess.CompletedProcess[str]:
    return relbot("outbox", *args, "--config", str(chat.config_path), "--db",
                  str(chat.db_path), cwd=chat.tmp)


def test_a_refused_post_its_reply_and_update_are_each_audited_once(chat: Chat) -> None:
    chat.svc.outbox.stop()
    parent = post_message(chat.svc, "deploy token hunter2 rotated", None, CH)
    reply = post_message(chat.svc, "details", None, CH, thread_ts=parent)
    update_message(chat.svc, CH, parent, "deploy token rotated (edited)")
    chat.api.faults.fail("chat.postMessage", 200, error="channel_not_found")
    chat.svc.outbox.start()
    chat.wait()
    assert chat.messages == []
    assert sorted(_failed(chat)) == sorted([
        (parent, "chat.postMessage", CH, "HTTP 200 channel_not_found"),
        (parent, "chat.update", CH, ORPHANED),
        (reply, "chat.postMessage", CH, ORPHANED)])
    entries = chat.audit("outbox.failed")
    assert all("hunter2" not in json.dumps(e.payload) and "details" not in json.dumps(e.payload)
               for e in entries)   # small entries: never the text
    body = chat.svc.metrics.render()[0].decode()   # type: ignore[union-attr]
    assert ('relbot_outbox_failed_total{error="HTTP 200 channel_not_found",'
            'method="chat.postMessage"} 1.0') in body
    assert f'relbot_outbox_failed_total{{error="{ORPHANED}",method="chat.update"}} 1.0' in body


@pytest.mark.parametrize("error", ["not_in_channel", "is_archived", "msg_too_long"])
def test_a_refused_update_is_audited_and_later_updates_still_go(chat: Chat, error: str) -> None:
    key = post_message(chat.svc, "v1", None, CH)
    chat.wait()
    chat.api.faults.fail("chat.update", 200, error=error)
    update_message(chat.svc, CH, key, "v2")
    chat.wait()
    assert _failed(chat) == [(key, "chat.update", CH, f"HTTP 200 {error}")]
    update_message(chat.svc, CH, key, "v3")        # the message itself is still there
    chat.wait()
    assert chat.messages[0].text == "v3" and len(chat.audit("outbox.failed")) == 1


def test_a_retryable_error_is_not_audited(chat: Chat) -> None:
    chat.api.faults.fail("chat.postMessage", 500, times=2)
    post_message(chat.svc, "patient", None, CH)
    chat.wait()
    assert [m.text for m in chat.messages] == ["patient"] and chat.audit("outbox.failed") == []


def test_relbot_outbox_lists_the_failed_and_retry_sends_them(chat: Chat) -> None:
    chat.svc.outbox.stop()
    parent = post_message(chat.svc, "release 2.4.0 started", None, CH)
    post_message(chat.svc, "notes follow", None, CH, thread_ts=parent)
    ok = post_message(chat.svc, "unrelated", None, "C0OTHER")
    chat.api.faults.fail("chat.postMessage", 200, error="not_in_channel")
    chat.svc.outbox.start()
    chat.wait()

    listed = _relbot(chat, "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 2 and all("failed chat.postMessage C0RELEASES" in ln for ln in lines)
    assert parent in listed.stdout and ok not in listed.stdout
    assert "HTTP 200 not_in_channel" in listed.stdout and ORPHANED in listed.stdout

    retried = _relbot(chat, "retry", parent)          # the bot was invited meanwhile
    assert retried.returncode == 0, retried.stderr
    assert "queued again: 2 operation(s)" in retried.stdout
    chat.wait()
    texts = [m.text for m in chat.messages]
    assert texts.count("release 2.4.0 started") == 1 and "notes follow" in texts
    [entry] = chat.audit("outbox.retried")
    assert entry.subject == parent and entry.actor.startswith("cli:")
    again = _relbot(chat, "retry", "--failed")
    assert again.returncode == 1 and "nothing to retry" in again.stdout
    assert _relbot(chat, "retry").returncode == 2      # neither keys nor --failed
    assert "no failed messages" in _relbot(chat, "list").stdout
