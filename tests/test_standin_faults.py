"""Fault injection in the Slack stand-in: failures, delays and hangs, from tests and console."""

from __future__ import annotations

import io
import threading
import time

import pytest
from slack_sdk.errors import SlackApiError

from bot.standin.console import Console
from bot.standin.faults import Faults, parse_fault_command
from tests.harness import Chat


def _post(chat: Chat, text: str = "hello") -> str:
    return str(chat.svc.client.chat_postMessage(channel="C0RELEASES", text=text)["ts"])


def test_fail_next_n_calls_with_status_and_error_then_succeed(chat: Chat) -> None:
    chat.api.faults.fail("chat.postMessage", 500, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            _post(chat)
        assert err.value.response.status_code == 500
        assert err.value.response["error"] == "internal_error"
    _post(chat, "third time")
    assert [m.text for m in chat.messages] == ["third time"]
    assert len(chat.api.calls("chat.postMessage")) == 3    # failed calls are recorded too


def test_429_carries_retry_after_and_other_methods_are_untouched(chat: Chat) -> None:
    ts = _post(chat)
    chat.api.faults.fail("chat.update", 429, times=3, retry_after=0)
    with pytest.raises(SlackApiError) as err:     # the client's 429 handler retries twice
        chat.svc.client.chat_update(channel="C0RELEASES", ts=ts, text="edited")
    assert err.value.response.status_code == 429
    assert err.value.response["error"] == "ratelimited"
    assert err.value.response.headers["Retry-After"] in ("0", ["0"])
    assert len(chat.api.calls("chat.update")) == 3
    _post(chat, "posts still work")
    chat.svc.client.chat_update(channel="C0RELEASES", ts=ts, text="edited")
    assert chat.messages[0].text == "edited"


def test_fail_every_call_until_cleared(chat: Chat) -> None:
    chat.api.faults.fail("chat.postMessage", 503, times=None, error="service_unavailable")
    for _ in range(4):
        with pytest.raises(SlackApiError) as err:
            _post(chat)
        assert err.value.response["error"] == "service_unavailable"
    chat.api.faults.clear("chat.postMessage")
    _post(chat)
    assert len(chat.messages) == 1


def test_delay_and_hang_until_cleared(chat: Chat) -> None:
    chat.api.faults.delay("chat.postMessage", 0.3)
    start = time.monotonic()
    _post(chat)
    assert time.monotonic() - start >= 0.3
    chat.api.faults.clear()

    chat.api.faults.hang("chat.postMessage")
    done = threading.Event()
    threading.Thread(target=lambda: (_post(chat, "late"), done.set()), daemon=True).start()
    assert not done.wait(0.5)                      # still hanging
    assert [m.text for m in chat.messages] == ["hello"]
    chat.api.faults.clear("chat.postMessage")
    assert done.wait(5)
    assert [m.text for m in chat.messages] == ["hello", "late"]


def test_console_fault_command(chat: Chat) -> None:
    out = io.StringIO()
    console = Console(chat.local, out)
    for line in ("fault chat.postMessage 500 2", "fault chat.update 429 always retry-after=0",
                 "fault views.publish hang", "fault", "fault chat.update clear-me"):
        assert console.handle(line)
    text = out.getvalue()
    assert "(chat.postMessage: next 2 -> 500 internal_error)" in text
    assert "chat.update: every call -> 429 ratelimited, Retry-After 0" in text
    assert "views.publish: hangs until cleared" in text
    assert "console: usage: fault METHOD STATUS" in text
    with pytest.raises(SlackApiError):
        _post(chat)
    assert console.handle("fault clear")
    assert "(faults cleared)" in out.getvalue()
    _post(chat)
    assert parse_fault_command(chat.api.faults, []) == "(no faults)"


def test_stopping_the_standin_releases_hung_calls() -> None:
    faults, stopping = Faults(), threading.Event()
    faults.hang("chat.update")
    result: list[object] = []
    t = threading.Thread(target=lambda: result.append(faults.before("chat.update", stopping)))
    t.start()
    stopping.set()
    t.join(2)
    assert result == [None] and not t.is_alive()
