"""PagerDuty Events API v2: ``trigger`` and ``resolve`` events keyed by a dedup key."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.integrations.config import PagerDutyConfig
from bot.integrations.http import IntegrationError, JsonApi, Timing


@dataclass(frozen=True)
class PageEvent:
    """One event; ``dedup_key`` ties trigger and resolve to one incident (a rollback ID)."""

    action: Literal["trigger", "resolve"]
    dedup_key: str
    summary: str = ""
    severity: str = "error"
    source: str = "relbot"
    component: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    link: str = ""


class PagerDuty:
    """Sends :class:`PageEvent` s to ``{api_url}/v2/enqueue``."""

    def __init__(self, cfg: PagerDutyConfig, timing: Timing) -> None:
        self.cfg = cfg
        env = cfg.routing_key.removeprefix("env:")
        self._key = os.environ.get(env, "")
        if not self._key:
            raise IntegrationError("PagerDuty", f"environment variable {env} is not set "
                                   "(rollback.paging.pagerduty.routing_key); set it to the "
                                   "integration key of an Events API v2 service")
        self._api = JsonApi("PagerDuty", cfg.api_url, {}, timing,
                            cfg.timeout.total_seconds(), retries=1)

    def send(self, ev: PageEvent) -> str:
        """Enqueue ``ev``; returns PagerDuty's dedup key. Raises IntegrationError."""
        body: dict[str, Any] = {"routing_key": self._key, "event_action": ev.action,
                                "dedup_key": ev.dedup_key}
        if ev.action == "trigger":
            body["payload"] = {"summary": ev.summary[:1024], "source": ev.source,
                               "severity": ev.severity, "component": ev.component or None,
                               "custom_details": ev.details}
            if ev.link:
                body["links"] = [{"href": ev.link, "text": ev.dedup_key}]
        try:
            resp = self._api.request("POST", "v2/enqueue", json=body, ok=(202,))
        except IntegrationError as exc:
            if exc.status == 400:
                raise IntegrationError("PagerDuty", f"{str(exc).removeprefix('PagerDuty: ')}"
                                       ": check rollback.paging.pagerduty.routing_key (an "
                                       "Events API v2 integration key)", 400) from None
            raise
        finally:
            self._api.close()
        return resp.json().get("dedup_key", ev.dedup_key)
