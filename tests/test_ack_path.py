"""The ack path (issue 14): listeners answer in the request and leave their work to
``svc.work`` (Bolt's ``process_before_response``), usage answers are audited after the ack
in batches, concurrent replay checks are committed together."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from bot.actions.kinds import APPROVAL_KINDS
from handlers import COMMANDS
from handlers.base import SubcommandSpec
from storage.replays import SeenTriggers
from tests.harness import Chat


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """A `/release slow` subcommand that runs until the returned event is set."""
    release = threading.Event()

    def run(ctx: object) -> str:
        assert release.wait(20), "never released"
        return "slow work done"

    monkeypatch.setitem(COMMANDS["/release"].subcommands, "slow",
                        SubcommandSpec(run, "", "test: blocks", permission=None))
    return release


def test_the_ack_does_not_wait_for_slow_work(chat: Chat, gate: threading.Event) -> None:
    t0 = time.monotonic()
    http = chat.sender.command("U0ALICE", "/release slow")  # raw request: no waiting here
    assert http.status == 200 and time.monotonic() - t0 < 3  # Slack's 3-second rule
    assert not any(m.text == "slow work done" for m in chat.api.state.private)
    gate.set()
    chat.local.wait_idle()
    assert any(m.text == "slow work done" for m in chat.api.state.private)
    [entry] = chat.audit("command")
    assert entry.payload["sub"] == "slow"


def test_an_event_is_acked_before_its_listener_runs(make_chat: Callable[..., Chat]) -> None:
    release, ran = threading.Event(), []

    def slow_hook(svc: object, state: object) -> None:
        assert release.wait(20)
        ran.append(state)

    chat = make_chat(approval_kinds={**APPROVAL_KINDS, "slow": slow_hook})
    ts = chat.svc.client.chat_postMessage(channel="C0RELEASES", text="plan")["ts"]
    chat.svc.approvals.open(kind="slow", subject="S-1", evidence_id="DR-S1", digest="0" * 64,
                            channel="C0RELEASES", ts=ts, requester="U0DAVE",
                            policy=chat.svc.config.current.approval, approvers=("U0ALICE",))
    msg = chat.api.state.by_ts("C0RELEASES", ts)
    assert msg is not None
    t0 = time.monotonic()
    http = chat.sender.react("U0ALICE", msg, "white_check_mark")
    assert http.status == 200 and time.monotonic() - t0 < 3 and not ran
    release.set()
    chat.local.wait_idle()
    assert len(ran) == 1
    assert [e.actor for e in chat.audit("approval.counted")] == ["U0ALICE"]


def test_concurrent_help_answers_are_all_audited_in_one_chain(chat: Chat) -> None:
    said: list[int] = []

    def ask(user: str) -> None:
        said.append(chat.sender.command(user, "/release help").status)

    threads = [threading.Thread(target=ask, args=(f"U0USER{i:02d}",)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    chat.local.wait_idle()
    assert said == [200] * 24
    usage = chat.audit("command.usage")
    assert sorted(e.actor for e in usage) == sorted(f"U0USER{i:02d}" for i in range(24))
    assert chat.svc.audit.verify().ok


def test_concurrent_replay_checks_say_first_once_per_trigger(chat: Chat) -> None:
    seen = SeenTriggers(chat.svc.db)
    firsts: list[str] = []
    lock = threading.Lock()

    def check(n: int) -> None:
        for i in range(20):
            trigger = f"T-{(n * 20 + i) % 50}"  # every trigger is sent by several threads
            if seen.first_time(trigger, time.time(), wait=0.5):
                with lock:
                    firsts.append(trigger)

    threads = [threading.Thread(target=check, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(firsts) == sorted(f"T-{i}" for i in range(50))
    assert seen.count() == 50
