"""Posting and updating channel messages with secrets scrubbed. The one way the domain core
talks to the channel: ``svc.client`` is whatever Web API client the app was built with (the
core imports nothing from Slack's SDK or from the handlers)."""

from __future__ import annotations

from typing import Any

from bot.redact import scrub, scrub_text


def post_message(svc: Any, text: str, blocks: list[dict] | None, channel: str,
                 thread_ts: str | None = None) -> str:
    """chat.postMessage with secrets scrubbed; returns the new message's ts."""
    secrets = svc.config.current.secrets
    resp = svc.client.chat_postMessage(channel=channel, text=scrub_text(text, secrets),
                                       blocks=scrub(blocks, secrets), thread_ts=thread_ts)
    return str(resp["ts"])


def update_message(svc: Any, channel: str, ts: str, text: str,
                   blocks: list[dict] | None = None) -> None:
    """chat.update in place with secrets scrubbed."""
    secrets = svc.config.current.secrets
    svc.client.chat_update(channel=channel, ts=ts, text=scrub_text(text, secrets),
                           blocks=scrub(blocks, secrets) if blocks is not None else [])


def upload_file(svc: Any, channel: str, thread_ts: str | None, filename: str, content: str,
                comment: str) -> None:
    """One text file into the channel (or a thread) through Slack's files v2 upload
    (``files.getUploadURLExternal``, the upload, ``files.completeUploadExternal``), with
    secrets scrubbed from the content and the comment."""
    secrets = svc.config.current.secrets
    svc.client.files_upload_v2(channel=channel, thread_ts=thread_ts, filename=filename,
                               title=filename, content=scrub_text(content, secrets),
                               initial_comment=scrub_text(comment, secrets))
