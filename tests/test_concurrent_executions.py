"""Losing concurrent executions (issue 11, item 6 / case 9): answered once, ephemerally,
audited once, and never fail, refuse or report on the owner's execution."""

from __future__ import annotations

import os
from pathlib import Path

from tests.rollback_fixtures import config_sync_config, rb_message, rollback_chat, verified
from tests.test_rollback_config import _deployed, _repos


def _hold_pushes(tmp: Path, target: Path) -> tuple[Path, Path]:
    """A pre-receive hook on ``target`` that says when a push arrives (``started``) and lets
    it through only once the test writes to ``go`` (two FIFOs: events, no sleeping)."""
    started, go = tmp / "push-started", tmp / "push-go"
    os.mkfifo(started)
    os.mkfifo(go)
    hook = target / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\ncat > /dev/null\necho started > '{started}'\n"
                    f"read line < '{go}'\nexit 0\n")
    hook.chmod(0o755)
    return started, go


def test_four_applies_of_a_config_rollbacks_sync_one_runs_the_others_are_told(
        tmp_path: Path, make_chat) -> None:
    src, dst = _repos(tmp_path)
    chat = rollback_chat(make_chat, config_sync_config(
        src, dst, "{quorum: 1}\n    options: {auto_apply: false}"))
    chat.command("U0ALICE", "/rollback api sev=3 impact=limited type=config to=v1.3.0 "
                            "pool size 20 exhausts the database")
    dry = [m for m in chat.messages if m.rendered.startswith("Dry-run DR-")][-1]
    pid = dry.rendered.split()[1]
    chat.react("U0BOB", dry)
    assert "Run `/sync apply" in chat.thread(dry)[-1].rendered
    started, go = _hold_pushes(tmp_path, dst)
    st = chat.api.state
    n_private = len(st.private)
    chat.sender.command("U0BOB", f"/sync apply {pid}")           # the owner
    started.read_text()                                           # its push is under way
    for user in ("U0ALICE", "U0CAROL", "U0BOB"):
        chat.sender.command(user, f"/sync apply {pid}")          # three more, meanwhile
    with st.changed:
        assert st.changed.wait_for(lambda: len(st.private) - n_private >= 3, timeout=30)
    losers = [m for m in st.private[n_private:]]
    assert len(losers) == 3
    assert all("already running" in m.text for m in losers), [m.text for m in losers]
    assert sorted(m.to_user or "" for m in losers) == ["U0ALICE", "U0BOB", "U0CAROL"]
    go.write_text("go\n")                                         # the owner's push lands
    chat.local.wait_idle()
    assert _deployed(tmp_path, dst) == "db:\n  pool: 10\n"        # the config is reverted
    text = rb_message(chat).rendered
    assert "*Status*: done" in text and "5. Execute — done" in text   # not failed by itself
    thread = [m.rendered for m in chat.thread(dry)]
    assert sum(t.startswith(f"Sync {pid} done") for t in thread) == 1
    assert not [t for t in thread if "refused" in t or "already" in t]
    lost = [e for e in chat.audit("sync.refused") if e.payload.get("already_running")]
    assert len(lost) == 3 and all(e.subject == pid for e in lost)
    assert not [e for e in chat.audit("command.refused") if "apply" in e.payload["text"]]
    assert len(chat.audit("sync.success")) == 1
    verified(chat)
    [owner] = st.private[n_private + 3:]                          # each told exactly once
    assert owner.to_user == "U0BOB" and owner.text == f"{pid}: success"
