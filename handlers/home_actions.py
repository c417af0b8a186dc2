"""App Home buttons: approve a plan or rollback, confirm a release check, from the home tab.

The same engine calls as on the channel message (``svc.approvals.button`` on the request's
own message, ``release.confirm``), so policy, audit and evidence are the same; afterwards
the viewer's home tab is published again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.errors import Refused, RelbotError
from bot.render.actionable import HOME_APPROVE, HOME_CONFIRM
from handlers.after import acked

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


def _publish(svc: Services, user: str, note: str | None = None) -> None:
    from handlers.home import build_view

    view = build_view(svc, user)
    if note:
        view["blocks"].insert(1, {"type": "section",
                                  "text": {"type": "mrkdwn", "text": note[:2900]}})
    svc.client.views_publish(user_id=user, view=view)


def approve(svc: Services, user: str, request_id: str) -> str | None:
    """Vote for ``request_id`` as the Approve button on its message would; why not, or None."""
    req = svc.approvals.get(request_id)
    if req is None:
        return f"no approval request {request_id}"
    state = svc.approvals.button(channel=req.channel, ts=req.ts, user=user,
                                 request_id=req.id, approve=True)
    if state is None:
        return "no approval is open on that message any more"
    return state.refusal


def confirm(svc: Services, user: str, value: str) -> str | None:
    """Confirm release check ``RELEASE_ID:CHECK``; why not, or None."""
    from bot.release import service as rs
    from handlers.release import refresh

    rid, _, cid = value.partition(":")
    row = rs.store(svc).get(int(rid)) if rid.isdigit() else None
    if row is None:
        return f"no release {rid}"
    try:
        rs.confirm(svc, row, cid, user)
    except (Refused, RelbotError) as exc:
        return str(exc)
    refresh(svc, row, f"<@{user}> confirmed {cid} (from the App Home)")
    return None


def register(app: Any) -> None:
    """The home tab's Approve and Confirm buttons."""

    @app.action(HOME_APPROVE)
    @acked
    def on_approve(body: dict, context: Any) -> None:
        svc, user = context["svc"], body["user"]["id"]
        why = approve(svc, user, str(body["actions"][0].get("value", "")))
        _publish(svc, user, f":no_entry: Not counted: {why}." if why else None)

    @app.action(HOME_CONFIRM)
    @acked
    def on_confirm(body: dict, context: Any) -> None:
        svc, user = context["svc"], body["user"]["id"]
        why = confirm(svc, user, str(body["actions"][0].get("value", "")))
        _publish(svc, user, f":no_entry: {why}" if why else None)
