"""Socket Mode for the Slack stand-in: a WebSocket endpoint on loopback.

Slack's protocol as the SDK's client speaks it: ``apps.connections.open`` (app token) returns
a ``ws://127.0.0.1:PORT/link/?ticket=...`` URL; on connect the server says ``hello``; each
request arrives as an envelope ``{"envelope_id", "type": "slash_commands" | "events_api" |
"interactive", "payload", "accepts_response_payload"}`` on *one* of the app's connections and
the app acks it with ``{"envelope_id", "payload"?}``; ``{"type": "disconnect"}`` asks the
client to open a new connection. :class:`SocketSender` sends what
:class:`bot.standin.dispatcher.SlackSender` builds, as envelopes instead of signed HTTP.
Needs the ``websockets`` package (a development extra, 15 or later: keepalive pings).
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from bot.standin.dispatcher import APP_ID, HTTPResult, SlackSender
from bot.standin.webapi import FakeSlackAPI

PING_INTERVAL = 0.25   # seconds between the stand-in's pings on each connection


@dataclass
class Delivery:
    """One envelope sent: to which connection, and the ack (None until it arrives)."""

    envelope_id: str
    type: str
    connection: int
    ack: dict[str, Any] | None = None
    acked: threading.Event = field(default_factory=threading.Event)


class SocketModeHub:
    """The WebSocket side of Socket Mode; ``attach(api)`` serves ``apps.connections.open``."""

    def __init__(self) -> None:
        from websockets.sync.server import serve

        # Pings wake the SDK client's receiving thread, which holds its receive lock in a
        # recv() (3 s timeout) that close() waits for: without them a replica's SIGTERM
        # takes ~3 s. The client answers each with a pong, as it does Slack's.
        self._server = serve(self._handler, "127.0.0.1", 0, compression=None,
                             ping_interval=PING_INTERVAL)
        self.port = int(self._server.socket.getsockname()[1])
        self._lock = threading.Condition()
        self._open: dict[int, Any] = {}        # connection number -> live connection
        self._ids = itertools.count(1)
        self._next = itertools.count()
        self.deliveries: list[Delivery] = []
        self.opened: list[int] = []            # connection numbers, in order of connect
        self._pending: dict[str, Delivery] = {}
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="socket-mode-standin")
        self._thread.start()

    def attach(self, api: FakeSlackAPI) -> SocketModeHub:
        api.socket_mode = self
        return self

    def new_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/?ticket={uuid.uuid4().hex}&app_id={APP_ID}"

    # --- connections -----------------------------------------------------------------
    def _handler(self, conn: Any) -> None:
        with self._lock:
            n = next(self._ids)
            self._open[n] = conn
            self.opened.append(n)
            self._lock.notify_all()
        conn.send(json.dumps({"type": "hello", "num_connections": len(self._open),
                              "connection_info": {"app_id": APP_ID},
                              "debug_info": {"host": "standin", "approximate_connection_time":
                                             18060}}))
        try:
            for raw in conn:
                self._on_message(raw)
        except Exception:  # noqa: BLE001 - a dropped connection just ends
            pass
        finally:
            with self._lock:
                self._open.pop(n, None)
                self._lock.notify_all()

    def _on_message(self, raw: str | bytes) -> None:
        try:
            msg = json.loads(raw)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        with self._lock:
            d = self._pending.pop(str(msg.get("envelope_id")), None)
        if d is not None:
            d.ack = msg
            d.acked.set()

    def connections(self) -> list[int]:
        with self._lock:
            return sorted(self._open)

    def wait_connections(self, n: int, timeout: float = 30, newer_than: int = 0) -> list[int]:
        """Wait until ``n`` connections numbered above ``newer_than`` are open."""
        with self._lock:
            self._lock.wait_for(lambda: len([c for c in self._open if c > newer_than]) >= n,
                                timeout)
            return sorted(self._open)

    def disconnect(self, connection: int, reason: str = "refresh_requested") -> None:
        """Ask ``connection``'s client to reconnect (Slack does this every few hours)."""
        with self._lock:
            conn = self._open.get(connection)
        if conn is not None:
            conn.send(json.dumps({"type": "disconnect", "reason": reason,
                                  "debug_info": {"host": "standin"}}))

    # --- envelopes -------------------------------------------------------------------
    def send(self, kind: str, payload: dict[str, Any], timeout: float = 10,
             retry_attempt: int = 0) -> Delivery:
        """Deliver one envelope to one open connection (round robin) and wait for its ack."""
        with self._lock:
            self._lock.wait_for(lambda: bool(self._open), timeout)
            live = sorted(self._open)
            if not live:
                raise ConnectionError("no Socket Mode connection is open")
            n = live[next(self._next) % len(live)]
            conn = self._open[n]
            d = Delivery(uuid.uuid4().hex, kind, n)
            self._pending[d.envelope_id] = d
            self.deliveries.append(d)
        conn.send(json.dumps({"envelope_id": d.envelope_id, "type": kind, "payload": payload,
                              "accepts_response_payload": kind != "events_api",
                              "retry_attempt": retry_attempt,
                              "retry_reason": "timeout" if retry_attempt else ""}))
        d.acked.wait(timeout)
        return d

    def stop(self) -> None:
        self._server.shutdown()


class SocketSender(SlackSender):
    """Builds the same requests as :class:`SlackSender`, delivers them as envelopes."""

    def __init__(self, hub: SocketModeHub, api: FakeSlackAPI,
                 channel: str = "C0RELEASES") -> None:
        super().__init__("", "unused-in-socket-mode", api, channel)
        self.hub = hub

    def post(self, body: str | bytes, content_type: str, *, timestamp: int | None = None,
             signature: str | None = None, headers: dict[str, str] | None = None) -> HTTPResult:
        text = body.decode() if isinstance(body, bytes) else body
        retry = int((headers or {}).get("X-Slack-Retry-Num", 0))
        if "application/json" in content_type:
            kind, payload = "events_api", json.loads(text)
        else:
            form = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
            if "payload" in form:
                kind, payload = "interactive", json.loads(form["payload"])
            else:
                kind, payload = "slash_commands", form
        d = self.hub.send(kind, payload, retry_attempt=retry)
        if d.ack is None:
            return HTTPResult(504, "no ack")
        return HTTPResult(200, json.dumps(d.ack.get("payload") or {}))
