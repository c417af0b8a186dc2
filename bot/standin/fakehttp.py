"""A JSON HTTP server on loopback that records every call and can be told to fail: the base
of the GitHub, GitLab and PagerDuty stand-ins (tests and ``relbot console --fake-github``)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from bot.http import stop_server

Answer = tuple[int, Any, dict[str, str]]
Route = Callable[[re.Match, dict[str, str], Any], Answer]


@dataclass
class Request:
    """One recorded call: method, path, query, JSON body and headers (as sent)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


class FakeService:
    """Subclasses add routes with :meth:`route`; ``requests`` lists every call."""

    name = "fake"

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self._routes: list[tuple[str, re.Pattern, Route]] = []
        self._fail: list[tuple[str, str, Answer]] = []
        self._server: ThreadingHTTPServer | None = None

    # --- setup ------------------------------------------------------------------------
    def route(self, method: str, pattern: str, fn: Route) -> None:
        self._routes.append((method, re.compile(f"^{pattern}$"), fn))

    def fail_next(self, method: str, path_prefix: str, status: int, body: Any = None,
                  headers: dict[str, str] | None = None) -> None:
        """The next ``method`` call whose path starts with ``path_prefix`` answers
        ``status`` (e.g. 429 with ``Retry-After``, 403 with ``x-ratelimit-reset``)."""
        with self.lock:
            self._fail.append((method, path_prefix, (status, body or {"message": "failed"},
                                                     headers or {})))

    def calls(self, method: str | None = None, path: str = "") -> list[Request]:
        """Recorded calls, optionally only ``method`` ones whose path contains ``path``."""
        with self.lock:
            return [r for r in self.requests
                    if (method is None or r.method == method) and path in r.path]

    # --- serving ----------------------------------------------------------------------
    def start(self) -> FakeService:
        svc = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                status, body, headers = svc.dispatch(self.command, self.path,
                                                     dict(self.headers.items()), self._body())
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Any:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    return json.loads(raw) if raw else None
                except ValueError:
                    return raw.decode(errors="replace")

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True,
                         name=f"{self.name}-standin").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            stop_server(self._server)

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def dispatch(self, method: str, raw_path: str, headers: dict[str, str],
                 body: Any) -> Answer:
        """Record the call, then answer from an injected failure or the matching route."""
        u = urlparse(raw_path)
        query = {k: v[-1] for k, v in parse_qs(u.query).items()}
        with self.lock:
            self.requests.append(Request(method, u.path, query, body,
                                         {k.lower(): v for k, v in headers.items()}))
            for i, (m, prefix, answer) in enumerate(self._fail):
                if m == method and u.path.startswith(prefix):
                    del self._fail[i]
                    return answer
            denied = self.authorise(headers)
            if denied is not None:
                return denied
            for m, pat, fn in self._routes:
                match = pat.match(u.path)
                if m == method and match:
                    return fn(match, query, body)
        return 404, {"message": "Not Found"}, {}

    def authorise(self, headers: dict[str, str]) -> Answer | None:
        """None to let the call through; subclasses check their token."""
        return None


def paged(items: list[Any], query: dict[str, str], base_url: str, path: str,
          wrap: Callable[[list[Any]], Any] = lambda x: x) -> Answer:
    """One page of ``items`` with a GitHub/GitLab style ``Link: <...>; rel="next"``."""
    per = max(1, min(100, int(query.get("per_page", 30))))
    page = max(1, int(query.get("page", 1)))
    chunk = items[(page - 1) * per: page * per]
    headers = {}
    if page * per < len(items):
        rest = {**query, "page": str(page + 1)}
        qs = "&".join(f"{k}={v}" for k, v in rest.items())
        headers["Link"] = f'<{base_url}{path}?{qs}>; rel="next"'
    return 200, wrap(chunk), headers
