"""The production HTTP server: ``relbot run --http`` on waitress (WSGI), and /readyz."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.http import MAX_BODY, Endpoint
from bot.runner import readiness
from bot.standin.dispatcher import SlackSender
from bot.standin.webapi import FakeSlackAPI
from bot.wsgi import ServerLimits, WaitressServer
from storage.db import Database
from tests.test_foundation_run import SECRET, Bot, api, bot  # noqa: F401  (fixtures)


def _request(url: str, method: str, path: str, body: bytes = b"",
             headers: dict | None = None) -> tuple[int, str, dict]:
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read().decode(), {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()


def _oversized(url: str, length: int) -> tuple[int, str]:
    """POST announcing a ``length``-byte body and wait for the answer before sending it.

    The server answers 413 from the headers alone and closes the connection without reading
    the body (RFC 9112 9.6 lets it; draining megabytes for whoever sent them is the cost the
    limit exists to avoid), so a client that first pushes the whole body can be reset before
    it reads the 413. Slack's requests are far below the limit."""
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.putrequest("POST", "/slack/events")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        r = conn.getresponse()
        r.read()
        return r.status, (r.getheader("Connection") or "").lower()
    finally:
        conn.close()


def test_run_http_is_waitress_with_slack_answers(bot: Bot, api: FakeSlackAPI) -> None:  # noqa: F811
    sender = SlackSender(bot.url, SECRET, api)
    ok = sender.command("U0ALICE", "/release help")
    assert ok.status == 200 and "/release" in ok.text
    assert sender.post("command=%2Frelease", "application/x-www-form-urlencoded",
                       signature="v0=" + "0" * 64).status == 401
    assert sender.post("payload=%7Bnot-json", "application/x-www-form-urlencoded").status == 400
    status, _, headers = _request(bot.url, "GET", "/healthz")
    assert status == 200 and headers["server"] == "relbot"  # waitress (ident), not http.server
    assert _request(bot.url, "GET", "/readyz")[:2] == (200, "ready")
    assert _request(bot.url, "GET", "/nope")[0] == 404
    assert _request(bot.url, "PUT", "/slack/events")[0] == 405
    assert _oversized(bot.url, MAX_BODY + 1) == (413, "close")
    # exactly the limit is read and checked (waitress itself refuses bodies >= its setting)
    assert _request(bot.url, "POST", "/slack/events", b"x" * MAX_BODY,
                    {"Content-Type": "application/json"})[0] == 401
    assert _request(bot.url, "POST", "/slack/events", b"x",
                    {"Content-Length": "-1"})[0] == 400


@pytest.fixture
def serve() -> Iterator:
    servers: list[WaitressServer] = []

    def start(endpoint: Endpoint) -> str:
        s = WaitressServer(endpoint, "127.0.0.1", 0, ServerLimits(threads=2))
        threading.Thread(target=s.serve_forever, daemon=True).start()
        servers.append(s)
        return f"http://127.0.0.1:{s.port}"

    yield start
    for s in servers:
        s.shutdown()


def test_readyz_503_when_the_database_cannot_be_written(serve, tmp_path: Path) -> None:
    path = tmp_path / "relbot.db"
    Database(path).close()
    rw, ro = Database(path), Database(path, readonly=True)
    try:
        url = serve(Endpoint(None, "", ready=readiness(SimpleNamespace(db=rw))))
        assert _request(url, "GET", "/readyz")[:2] == (200, "ready")
        url = serve(Endpoint(None, "", ready=readiness(SimpleNamespace(db=ro))))
        assert _request(url, "GET", "/readyz")[:2] == (503, "database not writable")
        assert _request(url, "GET", "/healthz")[0] == 200  # alive all the same
        assert _request(url, "POST", "/slack/events", b"{}")[0] == 404  # health port only
    finally:
        rw.close()
        ro.close()


def test_readyz_503_until_the_socket_is_connected(serve, db_url: str) -> None:
    db = Database(db_url)
    try:
        from slack_bolt import App

        app = App(token="xoxb-x", signing_secret="s", token_verification_enabled=False)
        handler = SocketModeHandler(app, "xapp-not-connected")
        url = serve(Endpoint(None, "", ready=readiness(SimpleNamespace(db=db), handler)))
        assert _request(url, "GET", "/readyz")[:2] == (503, "socket mode not connected")
    finally:
        db.close()
