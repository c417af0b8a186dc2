"""App Home (placeholder until the cadence feature lands)."""

from __future__ import annotations

from typing import Any


def register(app: Any) -> None:
    @app.event("app_home_opened")
    def app_home_opened(ack: Any, event: dict, context: Any) -> None:
        ack()
        context["svc"].client.views_publish(user_id=event.get("user", ""), view={
            "type": "home",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*relbot*"}}]})
