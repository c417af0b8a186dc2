"""The outbox's transport to Slack (app wiring, like bot/app.py: the core never imports it).

Its own WebClient without slack-sdk's 429 retry handler: the outbox retries (honouring
``Retry-After``) without holding its thread in a sleep, and says which failures are worth
retrying.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.client import HTTPException

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.outbox import DeliveryError

# Slack errors that mean "try again later" even when answered with HTTP 200.
RETRYABLE = {"ratelimited", "internal_error", "fatal_error", "request_timeout",
             "service_unavailable", "team_added_to_org"}


class SlackDelivery:
    """chat.postMessage / chat.update / files v2 uploads through a WebClient; every failure
    raised as a DeliveryError that says whether it is worth retrying."""

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self.timeout = float(client.timeout)

    def post(self, channel: str, text: str, blocks: list[dict] | None,
             thread_ts: str | None) -> str:
        """chat.postMessage; returns the new message's ts."""
        with _as_delivery_error():
            resp = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks,
                                                thread_ts=thread_ts)
        return str(resp["ts"])

    def update(self, channel: str, ts: str, text: str, blocks: list[dict] | None) -> None:
        """chat.update of the message ``ts``."""
        with _as_delivery_error():
            self.client.chat_update(channel=channel, ts=ts, text=text,
                                    blocks=blocks if blocks is not None else [])

    def upload(self, channel: str, thread_ts: str | None, filename: str, content: str,
               comment: str) -> None:
        """One text file through slack-sdk's files v2 upload (three Slack calls)."""
        with _as_delivery_error():
            self.client.files_upload_v2(channel=channel, thread_ts=thread_ts, filename=filename,
                                        title=filename, content=content,
                                        initial_comment=comment)


def make_delivery(token: str, base_url: str) -> SlackDelivery:
    """A SlackDelivery with its own client for ``base_url``."""
    return SlackDelivery(WebClient(token=token, base_url=base_url))


@contextmanager
def _as_delivery_error() -> Iterator[None]:
    """Re-raise what a WebClient call can fail with as a classified DeliveryError."""
    try:
        yield
    except (SlackApiError, OSError, HTTPException, ValueError) as exc:
        raise _classify(exc) from exc


def _classify(exc: Exception) -> DeliveryError:
    if not isinstance(exc, SlackApiError):   # timeout, refused connection, garbled answer
        return DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True)
    resp = exc.response
    error = str(resp.get("error", "")) if isinstance(resp.data, dict) else ""
    status = resp.status_code
    retry_after = _retry_after(resp.headers)
    retryable = status >= 500 or status == 429 or error in RETRYABLE
    return DeliveryError(f"HTTP {status} {error or 'error'}", retryable=retryable,
                         retry_after=retry_after)


def _retry_after(headers: dict) -> float | None:
    for k, v in (headers or {}).items():
        if k.lower() == "retry-after":
            value = v[0] if isinstance(v, list) else v
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None
