"""One small JSON-over-HTTPS client per service (httpx): rate limits honoured, pages
followed, and errors that say what to fix. The token lives in the client's headers only: it
is never put in a URL, an error message or a log line."""

from __future__ import annotations

import email.utils
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.errors import RelbotError

if TYPE_CHECKING:  # httpx is imported when a client is made: ~35 ms off every start-up
    import ssl

    import httpx

MAX_PAGES = 20
"""A release with more than 2,000 pull requests or checks is not one relbot pages through."""


class IntegrationError(RelbotError):
    """A service answered with an error, or could not be reached; ``str()`` is safe to show
    (it names the service, the status and what to fix, never a secret)."""

    def __init__(self, service: str, message: str, status: int | None = None,
                 retry_at: datetime | None = None, unreachable: bool = False) -> None:
        self.service, self.status, self.retry_at = service, status, retry_at
        self.unreachable = unreachable
        super().__init__(f"{service}: {message}")

    @property
    def transient(self) -> bool:
        """Worth asking again later (rate limit, 5xx, network), not a config problem."""
        return self.unreachable or self.retry_at is not None or (self.status or 0) >= 500 \
            or self.status == 429


@dataclass(frozen=True)
class Timing:
    """Time as the bot sees it: ``now`` and ``sleep`` from its clock (fake in tests)."""

    now: Callable[[], datetime]
    sleep: Callable[[float], None]
    max_wait: float = 60.0
    """Longer rate-limit waits are not slept through: the check waits and is re-run."""


@functools.cache
def _tls() -> ssl.SSLContext:
    """The verifying TLS context every client shares (httpx's default, as ``verify=True``
    builds it); building one loads the CA bundle, ~40 ms of CPU per client otherwise."""
    import httpx

    return httpx.create_ssl_context()


class JsonApi:
    """A JSON API at ``base_url`` with fixed headers (auth); one per service and call."""

    def __init__(self, service: str, base_url: str, headers: dict[str, str], timing: Timing,
                 timeout: float = 15.0, retries: int = 2) -> None:
        import httpx

        self.service, self.timing, self.retries = service, timing, retries
        self._http = httpx.Client(base_url=base_url.rstrip("/") + "/",
                                  headers={"User-Agent": "relbot", **headers},
                                  timeout=timeout, follow_redirects=False, verify=_tls())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> JsonApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                json: Any = None, ok: tuple[int, ...] = (200, 201, 202)) -> httpx.Response:
        """Send one request; rate limits and 5xx are retried, other statuses not in ``ok``
        raise :class:`IntegrationError` (404 included: callers that expect it pass it)."""
        import httpx

        for attempt in range(self.retries + 1):
            try:
                resp = self._http.request(method, path.lstrip("/"), params=params, json=json)
            except httpx.HTTPError as exc:
                if attempt < self.retries:
                    self.timing.sleep(2 ** attempt)
                    continue
                raise IntegrationError(self.service, f"cannot reach {self._http.base_url}: "
                                       f"{type(exc).__name__}", unreachable=True) from None
            if resp.status_code in ok:
                return resp
            wait = self._rate_limit_wait(resp)
            if wait is not None:
                if wait > self.timing.max_wait or attempt == self.retries:
                    until = self.timing.now() + timedelta(seconds=wait)
                    raise IntegrationError(self.service, "rate limited until "
                                           f"{until:%H:%M:%S} UTC", 429, retry_at=until)
                self.timing.sleep(wait)
                continue
            if resp.status_code >= 500 and attempt < self.retries:
                self.timing.sleep(2 ** attempt)
                continue
            raise IntegrationError(self.service, f"{method} {_path(resp)} answered "
                                   f"{resp.status_code} {_detail(resp)}".rstrip(),
                                   resp.status_code)
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, path: str, params: dict[str, Any] | None = None,
            ok: tuple[int, ...] = (200,)) -> httpx.Response:
        return self.request("GET", path, params=params, ok=ok)

    def get_all(self, path: str, params: dict[str, Any] | None = None,
                key: str | None = None) -> list[Any]:
        """Every item of a paged list (``Link: rel="next"``, as GitHub and GitLab send)."""
        items: list[Any] = []
        resp = self.get(path, {"per_page": 100, **(params or {})})
        for _ in range(MAX_PAGES):
            body = resp.json()
            items += body.get(key, []) if key else body
            nxt = resp.links.get("next", {}).get("url")
            if not nxt:
                return items
            resp = self._follow(nxt)
        return items

    def _follow(self, url: str) -> httpx.Response:
        base = str(self._http.base_url)
        if not url.startswith(base):  # never send the token to another host
            raise IntegrationError(self.service, "a next-page link left the API URL")
        return self.get(url[len(base):])

    def _rate_limit_wait(self, resp: httpx.Response) -> float | None:
        """Seconds to wait before asking again, or None when this is not a rate limit."""
        h = resp.headers
        limited = resp.status_code == 429 or (
            resp.status_code == 403 and (h.get("retry-after") is not None
                                         or h.get("x-ratelimit-remaining") == "0"))
        if not limited:
            return None
        if h.get("retry-after"):
            return _retry_after(h["retry-after"], self.timing.now())
        reset = h.get("x-ratelimit-reset") or h.get("ratelimit-reset")
        if reset and reset.isdigit():
            at = datetime.fromtimestamp(int(reset), UTC)
            return max(0.0, (at - self.timing.now()).total_seconds()) + 1
        return 60.0


def _retry_after(value: str, now: datetime) -> float:
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 60.0
    return max(0.0, (when - now).total_seconds())


def _path(resp: httpx.Response) -> str:
    return resp.request.url.path


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    msg = body.get("message") or body.get("error") if isinstance(body, dict) else None
    if isinstance(msg, dict | list):
        msg = str(msg)
    return f"({str(msg)[:200]})" if msg else ""
