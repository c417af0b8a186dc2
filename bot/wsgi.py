"""The production HTTP server: :class:`bot.http.Endpoint` as a WSGI app on waitress.

waitress is pure Python (no compiler, runs wherever relbot runs), has no fork model to
fight the bot's scheduler and thread pools, and bounds what a stdlib ``ThreadingHTTPServer``
does not: a fixed pool of worker threads, a connection limit, a request body limit, header
size and idle-channel timeouts. Requests beyond the pool wait in waitress's queue instead of
each getting a thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from bot.http import MAX_BODY, Endpoint, Reply

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class ServerLimits:
    """waitress settings relbot starts with (``relbot run --threads ...``)."""

    # worker threads: concurrent requests being answered. Bolt holds one for >= 10 ms per
    # request (it polls for the ack every 10 ms), so 8 capped a replica near 700 req/s.
    threads: int = 32
    connection_limit: int = 200    # open connections; more wait in the listen backlog
    channel_timeout: int = 30      # seconds an idle or slow connection is kept
    max_request_header_size: int = 64 * 1024
    max_request_body_size: int = MAX_BODY + 1  # waitress refuses a body >= this


class SlackWSGI:
    """WSGI callable: ``GET /healthz|/readyz|/metrics``, ``POST /slack/events``."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        if method == "GET":
            reply = self.endpoint.get(path)
        elif method == "POST":
            reply = self.endpoint.length_error(environ.get("CONTENT_LENGTH") or "0") or \
                self._post(environ, path)
        else:
            reply = Reply(405, "method not allowed", {"Allow": "GET, POST"})
        return self._respond(reply, start_response)

    def _post(self, environ: dict[str, Any], path: str) -> Reply:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items()
                   if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        return self.endpoint.post(path, environ.get("QUERY_STRING", ""), headers, raw)

    @staticmethod
    def _respond(reply: Reply, start_response: StartResponse) -> list[bytes]:
        data = reply.body.encode()
        hdrs = {k.lower(): v for k, v in reply.headers.items()}
        hdrs.setdefault("content-type", "text/plain; charset=utf-8")
        out = [(k.title(), str(item)) for k, v in hdrs.items() if k != "content-length"
               for item in (v if isinstance(v, list) else [v])]
        out.append(("Content-Length", str(len(data))))
        phrase = HTTPStatus(reply.status).phrase if reply.status in HTTPStatus._value2member_map_ \
            else ""
        start_response(f"{reply.status} {phrase}", out)
        return [data]


class WaitressServer:
    """waitress serving :class:`SlackWSGI`; ``serve_forever()`` until ``shutdown()``."""

    def __init__(self, endpoint: Endpoint, host: str, port: int,
                 limits: ServerLimits | None = None) -> None:
        from waitress.server import create_server

        lim = limits or ServerLimits()
        self.server = create_server(
            SlackWSGI(endpoint), host=host, port=port, threads=lim.threads,
            connection_limit=lim.connection_limit, channel_timeout=lim.channel_timeout,
            max_request_header_size=lim.max_request_header_size,
            max_request_body_size=lim.max_request_body_size,
            clear_untrusted_proxy_headers=True, ident="relbot", expose_tracebacks=False)
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        return int(self.server.effective_port)

    def serve_forever(self) -> None:
        try:
            self.server.run()
        except OSError:  # the map was closed under the loop by shutdown()
            if not self._stopped.is_set():
                raise

    def shutdown(self) -> None:
        """Stop accepting, finish the requests being answered, end serve_forever()."""
        self._stopped.set()
        self.server.close()
        self.server.task_dispatcher.shutdown()
