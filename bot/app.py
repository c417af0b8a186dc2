"""App wiring: the Slack Web API client, the Bolt app and its middleware."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.web import SlackResponse

from bot.errors import DatabaseBusy, DatabaseUnwritable
from bot.services import Services
from storage.replays import SeenTriggers

log = logging.getLogger(__name__)
ACK_DB_WAIT = 0.5   # seconds a request may wait for the write lock before its ack

SLACK_API_URL = "https://slack.com/api/"


class RelbotWebClient(WebClient):
    """A WebClient that reports each failed call (``ok: false`` or a transport error) by
    method to ``on_error`` (the metrics), then raises as usual."""

    on_error: Callable[[str, str], None] | None = None

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:  # type: ignore[override]
        try:
            return super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            self._report(api_method, str(exc.response.get("error") or exc.response.status_code))
            raise
        except Exception as exc:
            self._report(api_method, type(exc).__name__)
            raise

    def _report(self, method: str, error: str) -> None:
        if self.on_error is not None:
            try:
                self.on_error(method, error)
            except Exception:  # counting must never hide the Slack error itself
                log.exception("Slack error hook failed")


def make_client(token: str, base_url: str | None = None) -> WebClient:
    """A WebClient that also retries on 429 (slack-sdk only retries connection errors)."""
    url = base_url or SLACK_API_URL
    client = RelbotWebClient(token=token, base_url=url if url.endswith("/") else url + "/")
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    return client


def build_app(svc: Services, signing_secret: str, *, socket_mode: bool = False,
              prechecked: bool = False) -> App:
    """The Bolt app: services in the context, retried events dropped, all handlers wired."""
    from handlers import register_all, setup_all

    app = App(
        name="relbot",   # without one Bolt names the app from inspect.stack(): ~50 ms per app
        client=svc.client,
        signing_secret=signing_secret,
        # Listeners run in the request and Bolt answers when they return (no 10 ms polling
        # for the ack); each one acks and leaves its work to svc.work (handlers.after).
        process_before_response=True,
        listener_executor=svc.work,
        # The signature is checked once: by bot.http.check_request before Bolt when the
        # front end says so (``prechecked``: relbot's HTTP server), else by Bolt itself.
        # Socket Mode needs none.
        request_verification_enabled=not (socket_mode or prechecked),
        raise_error_for_unhandled_request=False,
        ignoring_self_events_enabled=True,
    )
    app.use(ServicesMiddleware(svc, SeenTriggers(svc.db)))

    @app.error
    def on_error(error: Exception, body: dict, response: Any) -> BoltResponse | None:
        log.error("unhandled error: %s", type(error).__name__, exc_info=error)
        # After the ack (listener on svc.work) there is no response left to replace, and
        # returning one then makes Bolt fail an assertion.
        return BoltResponse(status=200, body="") if response is not None else None

    register_all(app)
    setup_all(svc)
    return app


class ServicesMiddleware(Middleware):
    """Puts ``svc`` in every request's context and refuses replayed triggers before any
    listener. A class (not a function middleware) so Bolt builds no keyword arguments for it.
    Acks never wait for the database: the replay check waits for the write lock only briefly
    (else it records after the ack); retried events are dropped after the ack
    (handlers.after.once_per_event)."""

    def __init__(self, svc: Services, triggers: SeenTriggers) -> None:
        self.svc, self.triggers = svc, triggers

    def process(self, *, req: BoltRequest, resp: BoltResponse,
                next: Callable[[], BoltResponse]) -> BoltResponse | None:  # noqa: A002
        req.context["svc"] = self.svc
        try:
            if isinstance(req.body, dict) and _replayed(self.svc, self.triggers, req.body):
                return BoltResponse(status=200, body="")
        except DatabaseUnwritable as exc:
            return cannot_write(exc)
        next()
        return resp


def _replayed(svc: Services, triggers: SeenTriggers, body: dict) -> bool:
    """A slash command or interaction whose ``trigger_id`` was already acted on: audited as
    a replay, and the caller ignores it (Slack never sends one trigger twice)."""
    from handlers.base import when_writable

    trigger = body.get("trigger_id")
    if not trigger:
        return False
    try:
        first = triggers.first_time(str(trigger), time.time(), wait=ACK_DB_WAIT)
    except DatabaseBusy:  # another process holds the write lock: record it after the ack
        first = triggers.remember(str(trigger), time.time())
        svc.work.submit(when_writable, svc, triggers.flush)
    if first:
        return False
    user = body.get("user")
    uid = body.get("user_id") or (user.get("id") if isinstance(user, dict) else user) or ""
    text = body.get("text")
    svc.work.submit(when_writable, svc, lambda: svc.audit.append(
        uid, "request.replay", str(trigger), {
            "type": body.get("type") or "slash_command", "command": body.get("command"),
            "text": text[:500] if isinstance(text, str) else None}))
    log.warning("refused a replayed request (trigger_id %s)", trigger)
    return True


def cannot_write(exc: DatabaseUnwritable) -> BoltResponse:
    """The answer to any request while the database is read-only: said, never silent."""
    log.error("%s", exc)
    return BoltResponse(status=200, headers={"content-type": "application/json"},
                        body=json.dumps({"response_type": "ephemeral", "text": str(exc)}))
