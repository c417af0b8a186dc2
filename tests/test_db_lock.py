"""Issue 11 case 11: acks never wait for the database; work held up by another process's
write lock runs when the lock clears, or the user is told -- never silently dropped."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import handlers.base
from tests.test_sync_flow import config, plan_msg, setup_repos


@contextmanager
def write_locked(db_path: Path) -> Iterator[None]:
    """Another process's connection holding SQLite's write lock (BEGIN IMMEDIATE)."""
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("COMMIT")
        other.close()


class _Seen(logging.Handler):
    """Sets ``event`` when a log line containing ``text`` is emitted (no polling)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text, self.event = text, threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


@contextmanager
def seen(text: str) -> Iterator[threading.Event]:
    handler = _Seen(text)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.event
    finally:
        root.removeHandler(handler)


def _timed(fn, *args):  # type: ignore[no-untyped-def]
    start = time.monotonic()
    res = fn(*args)
    return res, time.monotonic() - start


def _chat_with_a_plan(make_chat, tmp_path):  # type: ignore[no-untyped-def]
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst))
    chat.command("U0ALICE", "/sync plan docs")
    return chat, plan_msg(chat)


def test_acks_are_prompt_while_another_process_holds_the_write_lock(make_chat,
                                                                    tmp_path) -> None:  # type: ignore[no-untyped-def]
    chat, msg = _chat_with_a_plan(make_chat, tmp_path)
    n_msgs = len(chat.messages)
    with write_locked(chat.db_path):
        res, took = _timed(chat.sender.command, "U0CAROL", "/sync plan docs")
        assert res.status == 200 and "Planning" in res.text and took < 3
        res, took = _timed(chat.sender.react, "U0BOB", msg, "white_check_mark")
        assert res.status == 200 and took < 3
        assert not [e for e in chat.audit("command") if e.actor == "U0CAROL"]   # not yet
    chat.wait()                                       # the lock cleared: the work ran
    [cmd] = [e for e in chat.audit("command") if e.actor == "U0CAROL"]
    assert cmd.payload["sub"] == "plan"
    assert len(chat.messages) > n_msgs and plan_msg(chat).ts != msg.ts   # the new dry-run
    assert [e.actor for e in chat.audit("approval.counted")] == ["U0BOB"]


def test_work_waits_out_a_lock_longer_than_sqlites_busy_timeout(make_chat, tmp_path) -> None:  # type: ignore[no-untyped-def]
    chat, msg = _chat_with_a_plan(make_chat, tmp_path)
    chat.svc.db.set_busy_timeout(0.2)                 # stands in for the 30 s default
    with seen("database busy") as busy, write_locked(chat.db_path):
        res, took = _timed(chat.sender.react, "U0BOB", msg, "white_check_mark")
        assert res.status == 200 and took < 3
        res, took = _timed(chat.sender.command, "U0CAROL", "/sync status " +
                           msg.rendered.split()[1])
        assert res.status == 200 and took < 3
        assert busy.wait(10)                           # the work hit the lock, and retries
    said = chat.command("U0DAVE", "/sync list")        # and everything after it still works
    assert "docs" in said.text
    assert [e.actor for e in chat.audit("approval.counted")] == ["U0BOB"]
    assert [e for e in chat.audit("command") if e.actor == "U0CAROL"]
    carol = [m.rendered for m in chat.api.state.private if m.to_user == "U0CAROL"]
    assert any(t.startswith(msg.rendered.split()[1] + " (docs): planned") for t in carol)


def test_a_lock_that_never_clears_is_an_explicit_failure(make_chat, tmp_path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:  # type: ignore[no-untyped-def]
    chat, _ = _chat_with_a_plan(make_chat, tmp_path)
    chat.svc.db.set_busy_timeout(0.1)
    monkeypatch.setattr(handlers.base, "DB_WAIT", 0.5)   # config, not behaviour: 5 min default
    with write_locked(chat.db_path):
        said = chat.command("U0CAROL", "/sync plan docs")
        assert ":warning: `/sync plan docs` did not run: relbot's database stayed busy" \
            in said.text and "try again" in said.text
    assert not [e for e in chat.audit("command") if e.actor == "U0CAROL"]
