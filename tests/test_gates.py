"""One gate mechanism (bot/actions): /sync status and /rollback status explain each named
requirement from the same verdicts execution refuses on."""

from __future__ import annotations

from pathlib import Path

from bot.actions import Gate, Verdict
from bot.errors import Refused
from tests.rollback_fixtures import config_sync_config, rollback_chat
from tests.test_rollback_config import _repos


def test_gate_evaluates_in_order_and_refuses_on_the_first_no() -> None:
    seen: list[str] = []

    def req(name: str, ok: bool) -> Verdict:
        seen.append(name)
        return Verdict(name, ok, f"{name} says {'yes' if ok else 'no'}", refusal=f"no: {name}")

    gate = Gate([lambda: req("a", True), lambda: req("b", False), lambda: req("c", False)])
    assert [v.name for v in gate.verdicts()] == ["a", "b", "c"]
    seen.clear()
    try:
        gate.enforce()
        raise AssertionError("the gate let it through")
    except Refused as exc:
        assert exc.message == "no: b" and exc.gate == "b"
    assert seen == ["a", "b"]                          # c is never evaluated


def test_sync_status_explains_the_gates_execution_refuses_on(tmp_path: Path, make_chat) -> None:
    src, dst = _repos(tmp_path)
    chat = rollback_chat(make_chat, config_sync_config(src, dst))
    said = chat.command("U0ALICE", "/sync plan api-config ref=v1.3.0")
    pid = said.text.split("Dry-run ")[1].split()[0]
    chat.svc.locks.freeze("api", "RB-0099", "pool exhausted", "U0ALICE")
    status = chat.command("U0BOB", f"/sync status {pid}").text
    assert "approval: needs 1 more approval" in status
    assert "(anyone of the approvers can clear it by reacting)" in status
    assert "freeze: api is frozen by rollback RB-0099" in status
    assert "freshness: source and target unchanged since the dry-run" in status
    assert f"lock {dst}: free" in status
    dry = [m for m in chat.messages if m.rendered.startswith(f"Dry-run {pid}")][-1]
    chat.react("U0BOB", dry)                            # approved, but the freeze refuses
    [refused] = [m.rendered for m in chat.thread(dry) if "refused" in m.rendered]
    assert "api is frozen by rollback RB-0099" in refused and "approval stands" in refused
    status = chat.command("U0BOB", f"/sync status {pid}").text
    assert "approval: quorum reached" in status and "freeze: api is frozen" in status


def test_rollback_status_explains_approval_and_window(make_chat) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", "/rollback api sev=4 impact=limited at=2026-11-26T10:00 leak")
    text = chat.command("U0ALICE", "/rollback status RB-0001").text
    assert "\napproval: needs 2 more approvals from <@U0BOB>" in text
    assert "window: runs at 2026-11-26T" in text
