"""The HTTP endpoint: ``POST /slack/events`` into Bolt, ``GET /healthz``, ``GET /metrics``.

Requests are checked before Bolt sees them: bad signatures get 401, and signed but
malformed payloads (invalid UTF-8 or JSON, an ``event`` that is not an object, ``actions``
that is not a list) get 400 instead of Bolt's 500 or a dropped connection.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20


def shape_error(body: str, content_type: str) -> str | None:
    """Why a (signed) body cannot be a Slack request, or None when its shape is fine."""
    if "application/json" in content_type:
        try:
            data = json.loads(body)
        except json.JSONDecodeError:
            return "body is not valid JSON"
    else:
        form = parse_qs(body, keep_blank_values=True)
        if "payload" not in form:
            return None if form or not body else "body is not form-encoded"
        try:
            data = json.loads(form["payload"][0])
        except json.JSONDecodeError:
            return "payload is not valid JSON"
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


class _Handler(BaseHTTPRequestHandler):
    server: SlackHTTPServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: avoid 40 ms ACK stalls

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("http: " + fmt, *args)

    def _reply(self, status: int, body: str = "", headers: dict[str, Any] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        hdrs = {k.lower(): v for k, v in (headers or {}).items()}
        hdrs.setdefault("content-type", "text/plain; charset=utf-8")
        for k, v in hdrs.items():
            for item in v if isinstance(v, list) else [v]:
                if k != "content-length":
                    self.send_header(k, str(item))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        path = urlparse(self.path).path
        if path == "/healthz":
            self._reply(200, "ok")
        elif path == "/metrics" and self.server.metrics is not None:
            body, content_type = self.server.metrics()
            self._reply(200, body.decode(), {"Content-Type": content_type})
        else:
            self._reply(404, "not found")

    def do_POST(self) -> None:  # noqa: N802
        parsed = urlparse(self.path)
        if parsed.path != "/slack/events":
            self._reply(404, "not found")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            self._reply(400, "bad Content-Length", {"Connection": "close"})
            return
        if length < 0:
            self.close_connection = True  # the unread body would be taken for a request
            self._reply(400, "bad Content-Length", {"Connection": "close"})
            return
        if length > MAX_BODY:
            self.close_connection = True
            self._reply(413, "body too large", {"Connection": "close"})
            return
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not self.server.signature_ok(raw, timestamp, signature):
            self._reply(401, "invalid signature")
            return
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            self._reply(400, "body is not valid UTF-8")
            return
        problem = shape_error(body, headers.get("content-type", ""))
        if problem:
            self._reply(400, problem)
            return
        try:
            resp = self.server.app.dispatch(BoltRequest(
                body=body, query=parsed.query, headers={k: [v] for k, v in headers.items()}))
        except Exception:
            log.exception("dispatch failed")
            self._reply(200, "")  # never a 5xx: Slack would retry a request that cannot work
            return
        status = resp.status if resp.status < 500 else 200
        self._reply(status, resp.body or "", resp.headers)


class SlackHTTPServer(ThreadingHTTPServer):
    """Threaded HTTP server for Bolt; ``serve_in_thread()`` for the console and tests."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, app: App, signing_secret: str, host: str = "127.0.0.1",
                 port: int = 3000, metrics: Callable[[], tuple[bytes, str]] | None = None
                 ) -> None:
        super().__init__((host, port), _Handler)
        self.app = app
        self.metrics = metrics
        self.verifier = SignatureVerifier(signing_secret)
        self.signing_secret = signing_secret
        self._thread: threading.Thread | None = None

    def signature_ok(self, raw: bytes, timestamp: str, signature: str) -> bool:
        """Verify over the raw bytes (slack-sdk's verifier raises on invalid UTF-8)."""
        try:
            if abs(time.time() - int(timestamp)) > 60 * 5:
                return False
        except ValueError:
            return False
        base = b"v0:" + timestamp.encode() + b":" + raw
        mac = hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        return hmac.compare_digest("v0=" + mac, signature)

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
        # A short poll interval: shutdown() waits up to one interval (0.5 s by default).
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True,
                                        name="relbot-http")
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
