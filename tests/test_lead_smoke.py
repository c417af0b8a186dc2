"""End-to-end smoke: the shipped example config and a signed command (the console on the
example config: ``tests/test_foundation_run.py``)."""

from __future__ import annotations

from tests.cli import relbot
from tests.harness import Chat


def test_example_config_is_valid() -> None:
    r = relbot("check-config", "examples/relbot.yml")
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout


def test_signed_help_is_answered_in_the_ack_and_audited(chat: Chat) -> None:
    said = chat.command("U0ALICE", "/sync help")
    assert said.status == 200
    assert said.http.json["response_type"] == "ephemeral"
    assert "`/sync help`" in said.ack
    [entry] = chat.audit("command.usage")
    assert (entry.actor, entry.subject) == ("U0ALICE", "/sync")
    assert chat.svc.audit.verify().ok


def test_bad_signature_is_rejected_without_running_anything(chat: Chat) -> None:
    res = chat.sender.post("command=%2Fsync&text=help&user_id=U0ALICE",
                           "application/x-www-form-urlencoded", signature="v0=" + "0" * 64)
    assert res.status == 401
    assert chat.audit() == []
