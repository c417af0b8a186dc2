"""App Home: ``app_home_opened`` -> ``views.publish`` with the cadence overview."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot import lazy
from handlers.after import once_per_event
from storage.cadence import active_releases

if TYPE_CHECKING:
    from bot import actionable
    from bot.cadence import loader
    from bot.render import actionable as render_actionable
    from bot.render import home as render_home
    from bot.services import Services
else:  # imported when a home tab is first opened (bot/lazy.py)
    actionable, loader = lazy.module("bot.actionable"), lazy.module("bot.cadence.loader")
    render_actionable = lazy.module("bot.render.actionable")
    render_home = lazy.module("bot.render.home")

log = logging.getLogger(__name__)


def build_view(svc: Services, user: str | None = None) -> dict[str, Any]:
    """The home view for the current state (calendar, releases, open approvals) and, for
    ``user``, what they can act on now."""
    try:
        cal = loader.effective(svc.config.current)
    except Exception:  # noqa: BLE001 - a broken calendar must not break the home tab
        log.exception("calendar unavailable")
        cal = None
    try:
        pending = list(svc.approvals.store.open_requests())
    except Exception:  # noqa: BLE001 - approvals optional
        pending = []
    view = render_home.home_view(cal, svc.clock.now(), active_releases(svc.db), pending,
                                 _rollbacks(svc))
    if user:
        try:
            view["blocks"][1:1] = render_actionable.actionable_blocks(
                actionable.for_user(svc, user), user)
        except Exception:  # noqa: BLE001 - the overview still shows if this part fails
            log.exception("could not list what %s can act on", user)
    return view


def _rollbacks(svc: Services) -> list[str]:
    """Active rollbacks and product locks, one line each."""
    from bot.render.rollback import summary
    from bot.rollback.lookup import store

    lines = [summary(r) for r in store(svc).active()]
    lines += [f":lock: {f.product} locked by {f.ref} since {f.since}: `/rollback resolve "
              f"{f.ref} REASON` lifts it" for f in svc.locks.all_frozen()]
    return lines


def register(app: Any) -> None:
    @app.event("app_home_opened")
    @once_per_event
    def app_home_opened(body: dict, event: dict, context: Any) -> None:
        svc = context["svc"]
        if event.get("tab", "home") != "home":
            return
        user = event.get("user", "")
        svc.client.views_publish(user_id=user, view=build_view(svc, user))
