"""Listeners that ack at once and run the rest on ``svc.work``.

relbot's Bolt app answers in the request thread (``process_before_response``: Bolt sends the
ack when the listener returns, instead of polling for it every 10 ms), so a listener only
acks and submits its work: :func:`once_per_event` for Events API listeners (with the
``event_id`` dedupe), :func:`acked` for block actions. Slash commands: ``handlers.base``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.clock import iso
from handlers.base import after_ack, when_writable

log = logging.getLogger(__name__)


def once_per_event(fn: Callable[[dict, dict, Any], None]) -> Callable[..., None]:
    """An Events API listener: ack at once, then (on ``svc.work``) run ``fn(body, event,
    context)`` only for the first delivery of the envelope's ``event_id`` (Slack retries are
    dropped). The dedupe write happens after the ack and waits out a locked database."""

    def listener(ack: Any, body: dict, event: dict, context: Any) -> None:
        ack()
        after_ack(context["svc"], _first_delivery, fn, body, event, context)

    listener.__name__ = fn.__name__
    return listener


def _first_delivery(fn: Callable[[dict, dict, Any], None], body: dict, event: dict,
                    context: Any) -> None:
    svc = context["svc"]
    event_id = body.get("event_id") if isinstance(body, dict) else None
    if event_id:
        first: list[bool] = []
        if not when_writable(svc, lambda: first.append(
                svc.events.first_time(event_id, iso(svc.clock.now())))):
            log.error("event %s (%s) not processed: the database stayed locked",
                      event_id, event.get("type"))
            return
        if not first[0]:
            log.info("dropping already-seen event %s (Slack retry)", event_id)
            return
    fn(body, event, context)


def acked(fn: Callable[[dict, Any], None]) -> Callable[..., None]:
    """A block action listener: ack at once, then ``fn(body, context)`` on ``svc.work``
    (Bolt answers Slack when a listener returns)."""

    def listener(ack: Any, body: dict, context: Any) -> None:
        ack()
        after_ack(context["svc"], fn, body, context)

    listener.__name__ = fn.__name__
    return listener
