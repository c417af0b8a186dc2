"""What Slack shows on a message: ``reactions.get`` behind :class:`bot.approvals.ReactionReader`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)


class ReactionsClient(Protocol):
    """The one Web API method this needs (slack_sdk's ``WebClient`` has it)."""

    def reactions_get(self, **kwargs: Any) -> Any:
        """``reactions.get``."""
        ...


class SlackReactions:
    """Reads a message's reactions with ``reactions.get`` (``full``: every user listed)."""

    def __init__(self, client: ReactionsClient | None,
                 slack_ts: Callable[[str], str | None] = lambda ts: ts) -> None:
        self.client = client
        self.slack_ts = slack_ts   # the core's message key -> Slack's ts (bot.outbox)

    def reactions(self, channel: str, ts: str) -> Mapping[str, Sequence[str]] | None:
        """Reaction name -> users; None when there is no client or Slack did not answer
        (the caller then goes by the events it has)."""
        slack_ts = self.slack_ts(ts)
        if self.client is None or slack_ts is None:   # not in Slack yet: no reactions to read
            return None
        try:
            resp = self.client.reactions_get(channel=channel, timestamp=slack_ts, full=True)
        except Exception as exc:  # noqa: BLE001 - any Slack fault: fall back to the events
            log.warning("reactions.get %s/%s failed: %s", channel, ts, type(exc).__name__)
            return None
        message = resp.get("message") or {}
        return {str(r.get("name", "")): tuple(r.get("users") or ())
                for r in message.get("reactions") or ()}
