"""Starting a rollback: request -> matrix decision -> target version -> the stored record.

The rest of the workflow lives beside it: ``flow`` (approval, schedule), ``run`` (execute,
verify, finish, stop), ``configsync`` (Config rollbacks), ``human`` (cancel, retry, abort,
resolve), ``message`` (the one message per rollback and its steps), ``evidence``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.clock import iso
from bot.errors import NotFound, Refused, UsageError
from bot.groups import describe
from bot.redact import scrub_text
from bot.rollback import checklists as cl
from bot.rollback.config import ProductRollback, RollbackConfig
from bot.rollback.decision import decide, parse_request, split_request
from bot.rollback.versions import target_versions
from storage.actions import SlotTaken
from storage.rollback import KIND, RollbackRow, RollbackStore, parse_id, rollback_id

if TYPE_CHECKING:
    from bot.services import Services

IMM_STEPS = ("Declare", "Decide", "Execute", "Verify", "Communicate", "Document")
PLN_STEPS = ("Assess", "Plan", "Approve", "Schedule", "Execute", "Verify & document")
URGENT = ("immediate", "partial")  # kinds whose undecided requests escalate to on-call


def store(svc: Services) -> RollbackStore:
    """The rollback store (``svc.rollbacks``)."""
    return svc.rollbacks


def config(svc: Services) -> RollbackConfig:
    """The ``rollback:`` config (Refused when the section is missing)."""
    cfg = svc.config.current.rollback
    if cfg is None:
        raise Refused("rollbacks are not configured: add a `rollback:` section to relbot.yml")
    return cfg


def product_cfg(svc: Services, name: str) -> ProductRollback:
    """How to roll product ``name`` back (NotFound naming the known products)."""
    p = config(svc).products.get(name)
    if p is None:
        known = ", ".join(config(svc).products) or "none configured"
        raise NotFound("rollback product", name, f"known: {known}")
    return p


def find(svc: Services, text: str | None) -> RollbackRow:
    """A rollback by ID (``RB-0001``); :class:`UsageError`/:class:`NotFound` otherwise."""
    num = parse_id(text or "")
    if num is None:
        raise UsageError("give the rollback ID (RB-0001); `/rollback list` shows recent ones")
    row = store(svc).get(num)
    if row is None:
        raise NotFound("rollback", text or "", "`/rollback list` or `relbot rollback list` "
                                               "shows recent ones")
    return row


# --- starting ----------------------------------------------------------------------------

def _window(svc: Services, at: str | None) -> datetime | None:
    if not at:
        return None
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise UsageError(f"at={at!r} is not a date-time like 2026-11-24T22:00") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=svc.config.current.tz)
    if when <= svc.clock.now():
        raise UsageError(f"at={at} is in the past; give a future window or leave it out")
    return when


def _plan_digest(row_data: dict[str, Any], p: ProductRollback) -> str:
    """SHA-256 over what approvers approve: product, versions, components, window, argv."""
    basis = {k: row_data.get(k) for k in ("product", "kind", "from_version", "to_version",
                                          "components", "window", "config_ref")}
    basis["command"], basis["health_check"] = list(p.command), list(p.health_check)
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()


def start(svc: Services, requester: str, words: list[str]) -> RollbackRow:
    """Declare a rollback from the words of ``/rollback``, decide it from the matrix and run
    or plan it."""
    req = parse_request(*split_request(words))
    req = req.model_copy(update={"reason": scrub_text(req.reason, svc.config.current.secrets)})
    rcfg = config(svc)
    p = product_cfg(svc, req.product)
    d = decide(req, rcfg)
    kind = d.cell.type
    if kind == "config" and not p.config_sync:
        raise Refused(f"{req.product} has no config_sync in rollback.products; a Config "
                      "rollback needs the name of its config sync")
    if kind == "config":
        sync = svc.config.current.sync(p.config_sync)
        quorum = svc.config.current.approval.merged(sync.approval if sync else None).quorum
        d = d.model_copy(update={"cell": d.cell.model_copy(update={"approvals": quorum})})
    if kind != "config" and not p.command:
        raise Refused(f"{req.product} has no rollback command; only type=config is possible")
    if kind == "partial" and not req.components:
        known = f" (known: {', '.join(p.components)})" if p.components else ""
        raise UsageError(f"a partial rollback needs components=a,b{known}")
    if req.components and kind != "config" and not p.names_components:
        raise Refused(f"{req.product}'s rollback command ({' '.join(p.command)}) has no "
                      "{component} or {components} placeholder, so it would roll back the "
                      f"whole product, not only {', '.join(req.components)}; leave out "
                      f"components= or add a placeholder to rollback.products.{req.product}."
                      "command")
    unknown = [c for c in req.components if p.components and c not in p.components]
    if unknown:
        raise UsageError(f"components={','.join(unknown)} not in rollback.products."
                         f"{req.product}.components ({', '.join(p.components)})")
    window = _window(svc, req.at)
    from_v, to_v, target_why = target_versions(svc, req.product, p, req.version, req.to,
                                                store(svc).done_for(req.product), req.config)
    now = svc.clock.now()
    urgent = d.cell.approvals == 0 and kind in URGENT and window is None
    procedure = "RB-IMM" if urgent else "RB-PLN"
    steps = IMM_STEPS if urgent else PLN_STEPS
    data: dict[str, Any] = {
        "product": req.product, "kind": kind, "severity": req.severity, "impact": req.impact,
        "reason": req.reason, "from_version": from_v, "to_version": to_v,
        "target_why": target_why, "components": list(req.components),
        "window": iso(window) if window else None,
        "config_ref": (req.to or f"v{to_v}") if kind == "config" else None,
        "cell": d.cell.model_dump(), "cell_name": f"{req.severity} x {req.impact}",
        "why": d.why, "decided": None, "escalated": None,
        "steps": [{"name": s, "status": "pending", "at": None, "note": ""} for s in steps],
        "commands": [], "verification": [], "checklists": cl.initial(), "approvals": [],
        "lock": None, "sync_plan": None, "failed_step": None, "error": "",
    }
    data["digest"] = _plan_digest(data, p)
    status = "executing" if urgent else "awaiting-approval"
    old = None
    if kind == "immediate":
        from bot.rollback.supersede import supersede

        old = supersede(svc, req.product, requester, data["cell_name"])
    try:
        with svc.db.tx():  # the row and its action together: a refused one leaves nothing
            num = store(svc).create(req.product, procedure, kind, requester, iso(now), data)
            svc.actions.create(KIND, rollback_id(num), status, digest=data["digest"],
                               exclusive=f"rollback:{req.product}")
    except SlotTaken:
        other = store(svc).active_for(req.product)
        pointer = (f"{other.id} ({other.status}, declared {other.declared} by "
                   f"<@{other.requester}>): `/rollback status {other.id}`") if other else "one"
        svc.audit.append(requester, "rollback.refused", req.product, {
            "reason": "another rollback is active", "active": other.id if other else None})
        hint = ("; only a rollback whose matrix cell is immediate supersedes a stopped one, "
                f"else `/rollback retry {other.id}` or `/rollback abort {other.id} REASON`"
                if other and other.status == "failed" else "")
        raise Refused(f"{req.product} already has an active rollback {pointer}{hint}") \
            from None
    row = store(svc).get(num)
    assert row is not None
    svc.audit.append(requester, "rollback.declared", row.id, {
        "product": req.product, "kind": kind, "severity": req.severity, "impact": req.impact,
        "reason": req.reason, "from": from_v, "to": to_v, "components": list(req.components),
        "window": data["window"], "config_ref": data["config_ref"],
        "procedure": procedure, "digest": data["digest"]})
    from bot.rollback import flow, message

    if old is not None:
        from bot.rollback.supersede import record

        record(svc, old, row, requester)
    row = message.refresh(svc, row)
    flow.begin(svc, row, d)
    return store(svc).get(row.num)  # type: ignore[return-value]


def schedule_escalation(svc: Services, row: RollbackRow) -> None:
    """Page on-call ``escalate_after`` the declaration if an urgent rollback is undecided."""
    if row.kind in URGENT and config(svc).oncall:
        when = datetime.fromisoformat(row.declared) + \
            config(svc).escalate_after
        svc.scheduler.add_once(f"rollback-escalate:{row.id}", when, "rollback.escalate",
                               num=row.num)


def may_act(svc: Services, user: str) -> str | None:
    """Why ``user`` may not tick checklists or steer a rollback (None when allowed)."""
    perms = svc.config.current.permissions.rollback
    oncall = config(svc).oncall
    if svc.groups.allowed(user, perms) or (oncall and svc.groups.allowed(user, oncall)):
        return None
    return f"limited to {describe(tuple(dict.fromkeys(tuple(perms or ()) + tuple(oncall))))}"


def may_resolve(svc: Services, user: str) -> str | None:
    """Release managers lift locks: users in ``permissions.rollback`` or ``permissions.release``
    (anyone when neither is set). None when allowed, else why not."""
    perms = svc.config.current.permissions
    lists = [p for p in (perms.rollback, perms.release) if p is not None]
    if not lists or any(svc.groups.allowed(user, p) for p in lists):
        return None
    who = tuple(dict.fromkeys(x for p in lists for x in p))
    return f"lifting a rollback lock is limited to {describe(who)}"


def tick(svc: Services, row: RollbackRow, name: str, selected: set[str], user: str,
         before: set[str] | None = None) -> list[str]:
    """Apply a click on checklist ``name`` (``before`` = what the user saw); audited.
    Returns a line per change."""
    why = may_act(svc, user)
    if why:
        svc.audit.append(user, "rollback.checklist.refused", row.id, {"list": name,
                                                                       "reason": why})
        raise Refused(f"ticking the {cl.TITLES[name]} checklist is {why}")
    at = iso(svc.clock.now())
    changed: dict[str, list[str]] = {}

    def apply(data: dict[str, Any]) -> None:
        state = data.setdefault("checklists", cl.initial())
        changed["ticked"], changed["unticked"] = cl.apply_ticks(state, name, selected, user, at,
                                                                before)

    store(svc).modify(row.num, apply)
    ticked, unticked = changed["ticked"], changed["unticked"]
    if not ticked and not unticked:
        return []
    e = svc.audit.append(user, "rollback.checklist", row.id, {
        "list": name, "ticked": ticked, "unticked": unticked})

    def cite(data: dict[str, Any]) -> None:
        for v in ticked:
            item = data["checklists"][name].get(v)
            if item and item["by"] == user and item["at"] == at:
                item["audit_seq"] = e.seq

    store(svc).modify(row.num, cite)
    return [f"ticked {cl.LABELS[v]}" for v in ticked] + \
        [f"unticked {cl.LABELS[v]}" for v in unticked]


def elapsed(a: str | None, b: str | None) -> timedelta | None:
    """Time from ISO ``a`` to ISO ``b`` (None when either is missing)."""
    if not a or not b:
        return None
    return datetime.fromisoformat(b) - \
        datetime.fromisoformat(a)


def local_time(svc: Services, when: str | None) -> str:
    """An ISO UTC time as people in the config's timezone read it: ``2026-11-24 22:00 CET``."""
    if not when:
        return ""
    dt = datetime.fromisoformat(when)
    return dt.astimezone(svc.config.current.tz).strftime("%Y-%m-%d %H:%M %Z")


def workdir(svc: Services) -> Path:
    """Where rollback commands run: the config file's directory."""
    return svc.config.current.base_dir

