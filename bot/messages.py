"""Posting and updating channel messages and uploading files, with secrets scrubbed: the one
way the domain core talks to the channel. Each only queues its work in the durable outbox
(``svc.outbox``, :mod:`bot.outbox`) and returns at once; Slack gets it after the caller's
state is committed, retried while its failures are retryable (a permanent one such as
``channel_not_found`` fails the row and is audited as ``outbox.failed``). The core imports
nothing from Slack's SDK or from the handlers.

A transition and the messages it causes commit together: write both inside one
``with svc.db.tx():`` -- the state change (store writes, audit entries) and the
``post_message``/``update_message``/refresh calls it decides. Stores' own ``tx()`` join it,
so either all of it is committed or none (a crash or an exception in between loses no
message and sends none for a transition that did not happen). Audit observers (metrics),
the deliverer's wake-up and ``svc.scheduler.add_once`` run once it has committed. Keep
Slack, git, HTTP and subprocess calls out of it: they would hold the write lock.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from bot.redact import scrub, scrub_text

if TYPE_CHECKING:
    from bot.services import Services


def post_message(svc: Services, text: str, blocks: list[dict] | None, channel: str,
                 thread_ts: str | None = None) -> str:
    """Queue a chat.postMessage; returns the message's key, which stands for its ts
    everywhere (``update_message``, ``thread_ts``, approvals) before and after delivery."""
    secrets = svc.config.current.secrets
    return str(svc.outbox.post(channel, scrub_text(text, secrets), scrub(blocks, secrets),
                               thread_ts))


def update_message(svc: Services, channel: str, ts: str, text: str,
                   blocks: list[dict] | None = None) -> None:
    """Queue a chat.update of ``ts`` (a key from :func:`post_message` or a Slack ts);
    several queued updates of one message are sent as the latest only."""
    secrets = svc.config.current.secrets
    svc.outbox.update(channel, ts, scrub_text(text, secrets),
                      scrub(blocks, secrets) if blocks is not None else [])


def upload_file(svc: Services, channel: str, thread_ts: str | None, filename: str, content: str,
                comment: str, fallback: list[str] | None = None) -> None:
    """Queue one text file for the channel (or a thread: after its parent is posted),
    delivered through Slack's files v2 upload (``files.getUploadURLExternal``, the upload,
    ``files.completeUploadExternal``), with secrets scrubbed from the content and comment.
    If Slack refuses the upload for good, the ``fallback`` messages are posted there instead
    (``{error}`` in the first is replaced by Slack's error)."""
    secrets = svc.config.current.secrets
    svc.outbox.upload(channel, thread_ts, filename, scrub_text(content, secrets),
                      scrub_text(comment, secrets),
                      [scrub_text(t, secrets) for t in fallback or ()])


def message_key(svc: Services, channel: str, ts: str) -> str:
    """The key the core knows the Slack message ``ts`` by (for inbound events)."""
    return str(svc.outbox.key_for(channel, ts))


def slack_ts(svc: Services, key: str) -> str | None:
    """Slack's ts of the message ``key``, or None while it is still queued."""
    return svc.outbox.slack_ts(key)


def rendering(svc: Services, name: str) -> AbstractContextManager[Any]:
    """Hold while reading the state message ``name`` shows, rendering it and queueing the
    update: one database transaction (a caller's, when one is open), so no other
    transaction -- in this thread, process or replica -- commits in between, and of two
    concurrent refreshes the later-queued one renders the later state."""
    return svc.db.tx()
