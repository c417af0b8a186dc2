"""Which pending outbox rows may be sent now, in the order they were decided (pure).

- posts and files are FIFO per stream (a channel, or one thread): only a stream's first
  pending post may go;
- a reply waits for its parent's post, an update for its message's post;
- several updates of one message coalesce into the latest; a post not yet delivered goes out
  with its message's latest content (and covers those updates);
- a row another deliverer holds (its lease runs), or one backing off, waits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.outbox.transport import METHOD
from storage.outbox import OpRow


@dataclass(frozen=True)
class Send:
    """One Slack call to make for ``op``, with the content to send."""

    op: OpRow
    text: str
    blocks: list[dict] | None
    thread_ts: str | None
    through: int          # updates of the same message with id <= this are covered


def sendable(rows: list[OpRow], now: float, slack_ts: Callable[[str], str | None], *,
             ignore: Callable[[str], bool] = lambda m: False) -> list[Send]:
    """The calls ``rows`` (pending, in id order) allow at ``now``; ``slack_ts(key)`` is a
    message's Slack ts once delivered; rows of methods ``ignore`` names are left out."""
    busy = {r.key for r in rows if r.lease_until >= now}
    latest: dict[str, OpRow] = {}
    for r in rows:
        if r.op == "update":
            latest[r.key] = r
    streams: set[tuple[str, str | None]] = set()
    out = []
    for r in rows:
        if r.op in ("post", "file"):
            stream = (r.channel, r.thread_key)
            if stream in streams:
                continue            # FIFO: an earlier post of this stream goes first
            streams.add(stream)
        elif latest[r.key].id != r.id or r.ts is None:
            continue                # a newer update covers it / its post is not out yet
        send = _ready(r, latest.get(r.key), busy, now, slack_ts)
        if send is not None and not ignore(METHOD[r.op]):
            out.append(send)
    return out


def _ready(r: OpRow, newest: OpRow | None, busy: set[str], now: float,
           slack_ts: Callable[[str], str | None]) -> Send | None:
    if r.not_before > now or r.key in busy:
        return None
    if r.op == "update":
        return Send(r, r.text, r.blocks, None, r.id)
    thread_ts = None
    if r.thread_key is not None:   # the parent's ts as read with the row, else looked up
        thread_ts = r.thread_ts if r.parent_read else slack_ts(r.thread_key)
        if thread_ts is None:
            return None             # the parent is not in Slack yet
    src = (newest or r) if r.op == "post" else r   # a queued post: its latest content
    return Send(r, src.text, src.blocks, thread_ts, src.id)
