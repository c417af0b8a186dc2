"""The HTTP endpoint: ``POST /slack/events`` into Bolt, ``GET /healthz``, ``/readyz``,
``/metrics``. :class:`Endpoint` holds every answer; it is served by the stdlib threaded
server here (console, tests) and by waitress through WSGI in production (``bot/wsgi.py``).

Requests are checked before Bolt sees them, by :func:`check_request` (the one signature
check: the app is built with ``prechecked=True``, so Bolt does not verify again): a body over
:data:`MAX_BODY` gets 413, a bad signature or a timestamp outside Slack's 5-minute window
401, and signed but malformed payloads (invalid UTF-8 or JSON, JSON nested deeper than
:data:`MAX_DEPTH`, an ``event`` that is not an object, ``actions`` that is not a list) 400
instead of Bolt's 500 or a dropped connection.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from slack_bolt import App
from slack_bolt.request import BoltRequest

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20
MAX_DEPTH = 64          # Slack's payloads nest about a dozen levels (blocks in a message)
REPLAY_WINDOW = 60 * 5  # Slack's own: a request timestamp older than 5 minutes is refused
_DRAIN = 8 * MAX_BODY   # read (and drop) this much of an oversized body so the 413 arrives
_STRINGS = re.compile(r'"(?:[^"\\]++|\\.?)*+(?:"|\Z)', re.S)  # always matches: linear
_BRACKETS = re.compile(r"[\[\]{}]")


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Does the JSON ``text`` nest arrays/objects deeper than ``limit``? A linear scan, so a
    body of 100,000 ``[`` is refused before the parser can recurse into it."""
    depth = 0
    for m in _BRACKETS.finditer(_STRINGS.sub('""', text)):
        depth += 1 if m.group() in "[{" else -1
        if depth > limit:
            return True
    return False


def _load_json(text: str) -> tuple[Any, str | None]:
    if too_deep(text):
        return None, f"nested deeper than {MAX_DEPTH} levels"
    try:
        return json.loads(text), None
    except (json.JSONDecodeError, RecursionError):
        return None, "not valid JSON"


def shape_error(body: str, content_type: str) -> str | None:
    """Why a (signed) body cannot be a Slack request, or None when its shape is fine."""
    if "application/json" in content_type:
        data, problem = _load_json(body)
        if problem:
            return f"body is {problem}"
    else:
        if "payload" not in body:  # a slash command: fields only (Bolt reads it the same way)
            return None if body.strip("&") or not body else "body is not form-encoded"
        form = parse_qs(body, keep_blank_values=True)
        if "payload" not in form:
            return None if form or not body else "body is not form-encoded"
        data, problem = _load_json(form["payload"][0])
        if problem:
            return f"payload is {problem}"
    if not isinstance(data, dict):
        return "payload must be a JSON object"
    if "event" in data and not isinstance(data["event"], dict):
        return "event must be an object"
    if "actions" in data and not (isinstance(data["actions"], list)
                                  and all(isinstance(a, dict) for a in data["actions"])):
        return "actions must be a list of objects"
    for key in ("user", "channel", "team", "container", "view", "message"):
        if key in data and data[key] is not None and not isinstance(data[key], dict | str):
            return f"{key} must be an object"
    return None


def signature_ok(secret: str, raw: bytes, timestamp: str, signature: str,
                 now: float | None = None) -> bool:
    """Slack's v0 signature over the raw bytes, timestamp within :data:`REPLAY_WINDOW`
    (slack-sdk's verifier raises on invalid UTF-8, so relbot computes it itself)."""
    try:
        if abs((time.time() if now is None else now) - int(timestamp)) > REPLAY_WINDOW:
            return False
    except ValueError:
        return False
    base = b"v0:" + timestamp.encode() + b":" + raw
    mac = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest("v0=" + mac, signature)


def check_request(secret: str, raw: bytes, headers: dict[str, str]
                  ) -> tuple[int, str] | None:
    """``(status, reason)`` when a request must not reach Bolt, else None. The one place the
    signature is checked; any front end (this server, a WSGI app) calls it first."""
    if len(raw) > MAX_BODY:
        return 413, f"body too large (limit {MAX_BODY} bytes)"
    if not signature_ok(secret, raw, headers.get("x-slack-request-timestamp", ""),
                        headers.get("x-slack-signature", "")):
        return 401, "invalid signature"
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        return 400, "body is not valid UTF-8"
    problem = shape_error(body, headers.get("content-type", ""))
    return (400, problem) if problem else None


@dataclass
class Reply:
    """An HTTP answer: status, text body, headers (a header may carry a list of values)."""

    status: int
    body: str = ""
    headers: dict[str, Any] = field(default_factory=dict)


Ready = Callable[[], tuple[bool, str]]


class Endpoint:
    """What ``/slack/events``, ``/healthz``, ``/readyz`` and ``/metrics`` answer, shared by
    the stdlib server below (console, tests) and the WSGI app (``bot/wsgi.py``, production).
    Requests are refused by :func:`check_request`, the one check, whichever server runs."""

    def __init__(self, app: App | None, signing_secret: str,
                 metrics: Callable[[], tuple[bytes, str]] | None = None,
                 ready: Ready | None = None,
                 health: Callable[[], str | None] | None = None) -> None:
        self.app, self.metrics, self.ready, self.health = app, metrics, ready, health
        self.signing_secret = signing_secret

    def get(self, path: str) -> Reply:
        if path == "/healthz":
            problem = self.health() if self.health else None
            return Reply(503, problem) if problem else Reply(200, "ok")
        if path == "/readyz":
            ok, why = self.ready() if self.ready is not None else (True, "ready")
            return Reply(200 if ok else 503, why)
        if path == "/metrics" and self.metrics is not None:
            body, content_type = self.metrics()
            return Reply(200, body.decode(), {"Content-Type": content_type})
        return Reply(404, "not found")

    @staticmethod
    def length_error(value: str | None) -> Reply | None:
        """A bad or too large ``Content-Length`` (the connection must then be closed)."""
        try:
            length = int(value or 0)
        except ValueError:
            return Reply(400, "bad Content-Length", {"Connection": "close"})
        if length < 0:  # the unread body would be taken for a request
            return Reply(400, "bad Content-Length", {"Connection": "close"})
        if length > MAX_BODY:
            return Reply(413, f"body too large (limit {MAX_BODY} bytes)",
                         {"Connection": "close"})
        return None

    def post(self, path: str, query: str, headers: dict[str, str], raw: bytes) -> Reply:
        """A Slack request (``headers`` with lower-case names) into Bolt; never a 5xx."""
        if path != "/slack/events" or self.app is None:
            return Reply(404, "not found")
        refusal = check_request(self.signing_secret, raw, headers)
        if refusal is not None:
            return Reply(*refusal)
        try:
            resp = self.app.dispatch(BoltRequest(
                body=raw.decode("utf-8"), query=query,
                headers={k: [v] for k, v in headers.items()}))
        except Exception:
            log.exception("dispatch failed")
            return Reply(200, "")  # never a 5xx: Slack would retry a request that cannot work
        return Reply(resp.status if resp.status < 500 else 200, resp.body or "",
                     dict(resp.headers))


class _Handler(BaseHTTPRequestHandler):
    server: SlackHTTPServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: avoid 40 ms ACK stalls

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("http: " + fmt, *args)

    def _reply(self, r: Reply) -> None:
        data = r.body.encode()
        self.send_response(r.status)
        hdrs = {k.lower(): v for k, v in r.headers.items()}
        hdrs.setdefault("content-type", "text/plain; charset=utf-8")
        for k, v in hdrs.items():
            for item in v if isinstance(v, list) else [v]:
                if k != "content-length":
                    self.send_header(k, str(item))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _drain(self, length: int) -> None:
        """Read an oversized body (up to a bound) so the client sees the 413, not a reset."""
        left = min(length, _DRAIN)
        self.connection.settimeout(2)
        try:
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass

    def do_GET(self) -> None:  # noqa: N802
        self._reply(self.server.endpoint.get(urlparse(self.path).path))

    def do_POST(self) -> None:  # noqa: N802
        parsed = urlparse(self.path)
        if parsed.path != "/slack/events":
            self._reply(Reply(404, "not found"))
            return
        bad = self.server.endpoint.length_error(self.headers.get("Content-Length"))
        if bad is not None:
            if bad.status == 413:
                self._drain(int(self.headers.get("Content-Length") or 0))
            self.close_connection = True
            self._reply(bad)
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        self._reply(self.server.endpoint.post(parsed.path, parsed.query, headers, raw))


def stop_server(server: socketserver.BaseServer) -> None:
    """``shutdown()`` and close a serving ``server`` without waiting out the poll interval
    of its ``serve_forever()``: throwaway connections wake its ``select()`` (the stand-ins,
    the console, the tests start and stop hundreds of servers)."""
    stopper = threading.Thread(target=server.shutdown, daemon=True, name="server-stop")
    stopper.start()
    host, port = server.server_address[:2]
    while stopper.is_alive():
        try:
            socket.create_connection((host, port), timeout=0.5).close()
        except OSError:
            pass
        stopper.join(0.01)
    server.server_close()


class SlackHTTPServer(ThreadingHTTPServer):
    """Threaded HTTP server for Bolt; ``serve_in_thread()`` for the console and tests."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, app: App, signing_secret: str, host: str = "127.0.0.1",
                 port: int = 3000, metrics: Callable[[], tuple[bytes, str]] | None = None,
                 health: Callable[[], str | None] | None = None, ready: Ready | None = None
                 ) -> None:
        super().__init__((host, port), _Handler)
        self.app = app
        # GET /healthz: health() None = ok, else the problem (503); /readyz: ready()
        self.endpoint = Endpoint(app, signing_secret, metrics, ready, health)
        self.signing_secret = signing_secret
        self._thread: threading.Thread | None = None

    def signature_ok(self, raw: bytes, timestamp: str, signature: str) -> bool:
        return signature_ok(self.signing_secret, raw, timestamp, signature)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/slack/events"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up is not worth a traceback on stderr."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("client %s disconnected", client_address)
            return
        super().handle_error(request, client_address)

    def serve_in_thread(self) -> SlackHTTPServer:
        # stop() wakes the loop at once; the interval bounds it if that cannot connect.
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True,
                                        name="relbot-http")
        self._thread.start()
        return self

    def stop(self) -> None:
        stop_server(self)
