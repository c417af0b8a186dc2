"""State first, Slack after: every channel post and update goes through a durable outbox.

- :mod:`bot.outbox.queue`: :class:`Outbox`, the queue API (``svc.outbox``): rows written in
  the caller's transaction, message keys, Slack ts <-> key;
- :mod:`bot.outbox.order`: which pending rows may be sent now (FIFO per stream, parents
  first, updates coalesced into the latest);
- :mod:`bot.outbox.deliverer`: the delivery loop (leases, retries, parallel slow calls,
  permanent failures);
- :mod:`bot.outbox.policy`: backoff and timing constants;
- :mod:`bot.outbox.transport`: the :class:`Delivery` seam to Slack and :class:`DeliveryError`.

The rows live in :mod:`storage.outbox`; ``bot.delivery.SlackDelivery`` is the app's transport.
"""

from bot.outbox.policy import BACKOFF_BASE, BACKOFF_CAP, backoff
from bot.outbox.queue import Outbox
from bot.outbox.transport import Delivery, DeliveryError

__all__ = ["BACKOFF_BASE", "BACKOFF_CAP", "Delivery", "DeliveryError", "Outbox", "backoff"]
