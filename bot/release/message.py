"""The one release message (updated in place) and its thread: rendered from the stored state
and queued in the outbox, inside the caller's transaction when one is open (a step's move and
the message showing it commit together)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.messages import post_message, rendering, update_message
from bot.release import freeze
from bot.release import service as rs
from bot.release import version as vs
from bot.render.release import release_blocks, summary
from storage.release import ReleaseRow

if TYPE_CHECKING:
    from bot.services import Services


def blocks_for(svc: Services, row: ReleaseRow) -> list[dict[str, Any]]:
    """The release message's blocks for ``row`` as it is now."""
    feats = freeze.note(svc, row)
    return release_blocks(row, rs.blockers(svc, row) if row.status == "active" else [],
                          vs.CADENCE.get(row.bump, ""), rs.lock_note(svc, row),
                          rs.manual(svc, row), [feats] if feats else [])


def refresh(svc: Services, row: ReleaseRow, *thread_notes: str | None) -> ReleaseRow:
    """Post or update the one release message and queue ``thread_notes`` (None skipped) in
    its thread; returns the row as rendered. Read, rendered and queued in one transaction
    (``rendering``: the caller's when one is open, so a move and the message showing it
    commit together): of two concurrent refreshes the update queued last (the one Slack
    keeps) shows the later state, and only one posts."""
    with rendering(svc, f"release:{row.id}"):
        row = rs.store(svc).get(row.id) or row
        blocks = blocks_for(svc, row)
        if row.ts:
            update_message(svc, row.channel, row.ts, summary(row), blocks)
        else:
            channel = svc.config.current.channel
            ts = post_message(svc, summary(row), blocks, channel)
            rs.store(svc).set_message(row.id, channel, ts)
            row.channel, row.ts = channel, ts
        for note in thread_notes:
            if note:
                post_message(svc, note, None, row.channel, thread_ts=row.ts)
    return row


def to_channel(svc: Services, row: ReleaseRow, text: str) -> None:
    """``text`` in the release thread and in the channel (the tag that shipped)."""
    post_message(svc, text, None, row.channel, thread_ts=row.ts)
    post_message(svc, text, None, row.channel)
