"""Modals: ``/rollback`` and ``/release start`` with no arguments open a form.

The rollback form shows the matrix cell live (``block_actions`` on the severity and impact
selects -> ``views.update``); a submission is checked before the ack, and what is wrong comes
back inside the modal (``response_action: errors``) naming the field; the slow work (the
rollback itself, the release's checks) runs after the ack, as for a typed command.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot import lazy
from bot.errors import Refused, RelbotError, UsageError
from bot.groups import describe
from bot.release import version as vs
from bot.render import modals as mv
from bot.rollback.config import IMPACTS, SEVERITIES
from bot.rollback.decision import decide, parse_request, split_request
from bot.words import split_words
from handlers.after import acked
from handlers.base import after_ack

if TYPE_CHECKING:
    from bot.release import begin
    from bot.release import service as rs
    from bot.rollback import declare, flow
    from bot.services import Services
else:  # imported when a form is first opened or submitted (bot/lazy.py)
    begin, rs = lazy.module("bot.release.begin"), lazy.module("bot.release.service")
    declare, flow = lazy.module("bot.rollback.declare"), lazy.module("bot.rollback.flow")

log = logging.getLogger(__name__)
_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
CHOOSE = "Choose severity and impact to see the matrix cell."


def values(view: dict[str, Any]) -> dict[str, str]:
    """``block_id -> value`` of a submitted (or changing) view's inputs."""
    out: dict[str, str] = {}
    for block_id, acts in ((view.get("state") or {}).get("values") or {}).items():
        for v in acts.values():
            if v.get("type") == "static_select":
                out[block_id] = str((v.get("selected_option") or {}).get("value") or "")
            else:
                out[block_id] = str(v.get("value") or "").strip()
    return out


def _meta(view: dict[str, Any]) -> dict[str, Any]:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        meta = {}
    return meta if isinstance(meta, dict) else {}


def _tell(svc: Services, channel: str, user: str, text: str) -> None:
    try:
        svc.client.chat_postEphemeral(channel=channel, user=user, text=text)
    except Exception:  # the outcome is on the channel message and in the audit log
        log.warning("could not tell %s about their form", user)


# --- /rollback -------------------------------------------------------------------------

def cell_text(svc: Services, severity: str, impact: str) -> str:
    """The matrix cell for the chosen severity x impact, as the form shows it."""
    cfg = svc.config.current.rollback
    if not severity or not impact or cfg is None:
        return CHOOSE
    c = cfg.cell(severity, impact)
    runs = ("runs at once (RB-IMM)" if c.approvals == 0 and c.type in flow.URGENT
            else f"waits for {c.approvals} approval(s) (RB-PLN)")
    return (f"Matrix cell *{severity} x {impact}* → *{c.type}*, {runs}"
            + (", on-call notified" if c.notify_oncall else ""))


def _rollback_view(svc: Services, vals: dict[str, str], meta: dict[str, Any]) -> dict[str, Any]:
    products = sorted(svc.config.current.rollback.products or {})
    return mv.rollback_view(products, SEVERITIES, IMPACTS,
                            cell_text(svc, vals.get("severity", ""), vals.get("impact", "")),
                            vals, meta)


def open_rollback(svc: Services, cmd: Any) -> None:
    """``/rollback`` with no arguments."""
    if svc.config.current.rollback is None or not svc.config.current.rollback.products:
        _tell(svc, cmd.channel, cmd.user, "No rollback products are configured (`rollback:`).")
        return
    svc.client.views_open(trigger_id=cmd.trigger_id,
                          view=_rollback_view(svc, {}, {"channel": cmd.channel}))


def rollback_words(svc: Services, vals: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The form as the words of a typed ``/rollback``, or the errors by field."""
    errors: dict[str, str] = {}
    for field in ("product", "severity", "impact", "reason"):
        if not vals.get(field):
            errors[field] = f"{field} is required"
    for field in ("version", "to"):
        if vals.get(field) and not _VERSION.match(vals[field]):
            errors[field] = f"{vals[field]!r} is not a version like 1.3.0"
    comps = [c.strip() for c in vals.get("components", "").split(",") if c.strip()]
    bad = [c for c in comps if not _NAME.match(c)]
    if bad:
        errors["components"] = f"{bad[0]!r}: a component is a name like api or worker-eu"
    if vals.get("at"):
        try:
            datetime.fromisoformat(vals["at"])
        except ValueError:
            errors["at"] = f"{vals['at']!r} is not an ISO time like 2026-11-24T22:00"
    if errors:
        return [], errors
    words = [vals["product"], *([vals["version"]] if vals.get("version") else []),
             f"severity={vals['severity']}", f"impact={vals['impact']}"]
    words += [f"{k}={vals[k]}" for k in ("to", "at") if vals.get(k)]
    words += [f"components={','.join(comps)}"] if comps else []
    words += split_words(vals["reason"])
    try:
        req = parse_request(*split_request(words))
        cfg = svc.config.current.rollback
        p = cfg.products.get(req.product)
        cell = decide(req, cfg).cell
        if cell.type == "partial" and not req.components and p is not None:
            errors["components"] = (f"{req.severity} x {req.impact} is a partial rollback: "
                                    f"name the components ({', '.join(p.components) or 'any'})")
        unknown = [c for c in req.components if p is not None and p.components
                   and c not in p.components]
        if unknown:
            errors["components"] = f"{unknown[0]!r} is not one of {', '.join(p.components)}"
    except UsageError as exc:
        errors["reason"] = str(exc)
    return words, errors


def _declare(svc: Services, user: str, words: list[str], channel: str) -> None:
    svc.audit.append(user, "command", "/rollback", {"sub": "start", "text": " ".join(words),
                                                    "channel": channel, "via": "modal"})
    try:
        row = declare.start(svc, user, words)
    except (Refused, RelbotError) as exc:
        _tell(svc, channel, user, f":no_entry: {exc}")
        return
    d = row.record
    _tell(svc, channel, user, f"{row.id}: {d.why}. Target {d.to_version} "
          f"({d.target_why}). Now {row.status}; progress is on the rollback message.")


# --- /release start ----------------------------------------------------------------------

CHOICES = [*vs.BUMPS, *vs.STAGES, "final"]


def open_release(svc: Services, cmd: Any) -> None:
    """``/release start`` with no arguments: the proposed bump and why, to confirm."""
    try:
        p = rs.product(svc, None)
        last, bump, why = rs.propose(p, rs.store(svc).released(p.name))
    except RelbotError as exc:
        _tell(svc, cmd.channel, cmd.user, f":no_entry: {exc}")
        return
    new = str(vs.next_version(last, bump)) if bump else None
    view = mv.release_view(p.name, f"v{last}" if last else "none", bump, new, why, CHOICES,
                           {"channel": cmd.channel, "product": p.name, "proposed": bump})
    svc.client.views_open(trigger_id=cmd.trigger_id, view=view)


def release_how(svc: Services, product: str, vals: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The bump (or exact version) the form asks for (``""``: the proposal as it stands),
    or the errors by field."""
    how = vals.get("version") or vals.get("bump") or ""
    field = "version" if vals.get("version") else "bump"
    if not how:
        return "", {"bump": "choose a bump or give a version"}
    try:
        p = rs.product(svc, product)
        new, last, _ = begin.choose(svc, p, how)
        vs.check_greater(new, last, p.name)
    except (UsageError, Refused, RelbotError) as exc:
        return "", {field: str(exc)}
    return how, {}


def _asked(meta: dict[str, Any], vals: dict[str, str], how: str) -> str | None:
    """None when the form kept the proposal: the release then says why, as a bare
    ``/release start PRODUCT`` does."""
    return None if not vals.get("version") and how == meta.get("proposed") else how


def _start_release(svc: Services, user: str, product: str, how: str, channel: str,
                   reason: str = "") -> None:
    from handlers.release import refresh

    svc.audit.append(user, "command", "/release", {"sub": "start", "text": f"{product} {how}",
                                                   "channel": channel, "via": "modal"})
    try:
        row, why = begin.start(svc, user, product, how or None, reason or None)
        row = rs.run_auto(svc, row)
        refresh(svc, row, f"Started {row.product} {row.version}: {why}")
    except (Refused, RelbotError) as exc:
        _tell(svc, channel, user, f":no_entry: {exc}")
        return
    _tell(svc, channel, user, f"Started {row.product} {row.version} ({row.bump}): {why}")


# --- wiring ------------------------------------------------------------------------------

def _allowed(svc: Services, user: str, perm: str) -> str | None:
    allowed = getattr(svc.config.current.permissions, perm)
    return None if svc.groups.allowed(user, allowed) else f"limited to {describe(allowed)}"


def register(app: Any) -> None:
    """The two forms' submissions and the live matrix cell."""

    @app.action(re.compile(r"^rollback:modal:(severity|impact)$"))
    @acked
    def on_select(body: dict, context: Any) -> None:
        svc, view = context["svc"], body.get("view") or {}
        new = _rollback_view(svc, values(view), _meta(view))
        svc.client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=new)

    @app.view(mv.ROLLBACK)
    def on_rollback(ack: Any, body: dict, view: dict, context: Any) -> None:
        svc, user = context["svc"], body["user"]["id"]
        denied = _allowed(svc, user, "rollback")
        words, errors = rollback_words(svc, values(view))
        if denied:
            errors = {"reason": f"/rollback is {denied}"}
        if errors:
            _answer_errors(ack, svc, user, "/rollback", errors)
            return
        ack()
        after_ack(svc, _declare, svc, user, words,
                  _meta(view).get("channel") or svc.config.current.channel)

    @app.view(mv.RELEASE)
    def on_release(ack: Any, body: dict, view: dict, context: Any) -> None:
        svc, user, meta = context["svc"], body["user"]["id"], _meta(view)
        product = str(meta.get("product") or "")
        vals = values(view)
        how, errors = release_how(svc, product, vals)
        denied = _allowed(svc, user, "release")
        if denied:
            errors = {"bump": f"/release start is {denied}"}
        if errors:
            _answer_errors(ack, svc, user, "/release", errors)
            return
        ack()
        after_ack(svc, _start_release, svc, user, product, _asked(meta, vals, how) or "",
                  meta.get("channel") or svc.config.current.channel, vals.get("reason", ""))


def _answer_errors(ack: Any, svc: Services, user: str, command: str, errors: dict) -> None:
    """Show ``errors`` inside the form, by field, and audit them as a usage answer."""
    ack(response_action="errors", errors=errors)
    after_ack(svc, svc.audit.append, user, "command.usage", command,
              {"via": "modal", "errors": errors})

