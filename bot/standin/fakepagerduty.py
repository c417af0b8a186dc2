"""A PagerDuty Events API v2 stand-in on loopback: ``POST /v2/enqueue`` records events and
keeps the incidents they open (by dedup key)."""

from __future__ import annotations

import re
from typing import Any

from bot.standin.fakehttp import Answer, FakeService


class FakePagerDuty(FakeService):
    name = "pagerduty"

    def __init__(self, routing_key: str | None = None) -> None:
        super().__init__()
        self.routing_key = routing_key
        self.incidents: dict[str, str] = {}  # dedup_key -> triggered | resolved
        self.route("POST", "/v2/enqueue", self._enqueue)

    def events(self) -> list[dict]:
        """The event bodies received, in order (routing key included, as sent)."""
        return [r.body for r in self.calls("POST", "/v2/enqueue") if isinstance(r.body, dict)]

    def _enqueue(self, m: re.Match, q: dict, body: Any) -> Answer:
        if not isinstance(body, dict) or body.get("event_action") not in (
                "trigger", "resolve", "acknowledge"):
            return 400, {"status": "invalid event", "message": "Event object is invalid"}, {}
        if self.routing_key is not None and body.get("routing_key") != self.routing_key:
            return 400, {"status": "invalid event", "message": "Invalid routing key"}, {}
        if body["event_action"] == "trigger":
            p = body.get("payload") or {}
            if not p.get("summary") or p.get("severity") not in (
                    "critical", "error", "warning", "info") or not p.get("source"):
                return 400, {"status": "invalid event", "message": "Event object is invalid",
                             "errors": ["payload.summary, source and severity are required"]}, {}
        key = body.get("dedup_key") or f"auto-{len(self.requests)}"
        self.incidents[key] = {"trigger": "triggered", "resolve": "resolved"}.get(
            body["event_action"], "acknowledged")
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key}, {}
