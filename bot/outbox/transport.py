"""The outbox's seam to Slack: the :class:`Delivery` transport and how it fails."""

from __future__ import annotations

from typing import Protocol

METHOD = {"post": "chat.postMessage", "update": "chat.update",
          "file": "files.getUploadURLExternal"}
"""The Slack method that carries each kind of outbox row (a file's first call)."""


class DeliveryError(Exception):
    """A Slack call that did not succeed; ``retryable`` says whether to try again."""

    def __init__(self, error: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.error, self.retryable, self.retry_after = error, retryable, retry_after


class Delivery(Protocol):
    """The transport to Slack (raises :class:`DeliveryError`); ``bot.delivery.SlackDelivery``
    in the app."""

    timeout: float

    def post(self, channel: str, text: str, blocks: list[dict] | None,
             thread_ts: str | None) -> str:
        """chat.postMessage; returns the new message's ts."""
        ...

    def update(self, channel: str, ts: str, text: str, blocks: list[dict] | None) -> None:
        """chat.update."""
        ...

    def upload(self, channel: str, thread_ts: str | None, filename: str, content: str,
               comment: str) -> None:
        """A text file through the files v2 upload."""
        ...
