"""Declaring a rollback: request -> matrix decision -> target version -> the stored record
and its action (one active per product), then the procedure begins (``bot.rollback.flow``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.clock import iso
from bot.errors import Refused, UsageError
from bot.redact import scrub_text
from bot.rollback import supersede
from bot.rollback.config import ProductRollback
from bot.rollback.decision import Decision, Request, decide, parse_request, split_request
from bot.rollback.flow import URGENT, begin
from bot.rollback.lookup import config, product_cfg, store
from bot.rollback.message import refresh
from bot.rollback.record import IMM_STEPS, PLN_STEPS, RollbackRecord, Step
from bot.rollback.versions import target_versions
from storage.actions import SlotTaken
from storage.rollback import KIND, RollbackRow, rollback_id

if TYPE_CHECKING:
    from bot.services import Services


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


def _decided(svc: Services, words: list[str]) -> tuple[Request, Decision, ProductRollback]:
    """Parse and decide the request; refuse what the product cannot do."""
    req = parse_request(*split_request(words))
    req = req.model_copy(update={"reason": scrub_text(req.reason, svc.config.current.secrets)})
    p = product_cfg(svc, req.product)
    d = decide(req, config(svc))
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
    return req, d, p


def _record(svc: Services, req: Request, d: Decision, p: ProductRollback,
            window: datetime | None, urgent: bool) -> RollbackRecord:
    from_v, to_v, target_why = target_versions(svc, req.product, p, req.version, req.to,
                                                store(svc).done_for(req.product), req.config)
    kind = d.cell.type
    rec = RollbackRecord(
        product=req.product, kind=kind, severity=req.severity, impact=req.impact,
        reason=req.reason, from_version=from_v, to_version=to_v, target_why=target_why,
        components=list(req.components), window=iso(window) if window else None,
        config_ref=(req.to or f"v{to_v}") if kind == "config" else None, cell=d.cell,
        cell_name=f"{req.severity} x {req.impact}", why=d.why,
        steps=[Step(name=s) for s in (IMM_STEPS if urgent else PLN_STEPS)])
    rec.digest = rec.plan_digest(p)
    return rec


def start(svc: Services, requester: str, words: list[str]) -> RollbackRow:
    """Declare a rollback from the words of ``/rollback``, decide it from the matrix and run
    or plan it."""
    req, d, p = _decided(svc, words)
    window = _window(svc, req.at)
    urgent = d.cell.approvals == 0 and d.cell.type in URGENT and window is None
    rec = _record(svc, req, d, p, window, urgent)
    procedure = "RB-IMM" if urgent else "RB-PLN"
    old = supersede.supersede(svc, req.product, requester, rec.cell_name) \
        if rec.kind == "immediate" else None
    try:
        with svc.db.tx():  # row, action, declaration and message: a refused one leaves nothing
            row = _create(svc, req, rec, procedure, "executing" if urgent else
                          "awaiting-approval", requester)
            if old is not None:
                supersede.record(svc, old, row, requester)
            row = refresh(svc, row)
    except SlotTaken:
        raise _refusal(svc, req.product, requester) from None
    begin(svc, row, d)
    return store(svc).get(row.num)  # type: ignore[return-value]


def _create(svc: Services, req: Request, rec: RollbackRecord, procedure: str, status: str,
            requester: str) -> RollbackRow:
    """The row, its action (the product's slot) and the ``rollback.declared`` entry."""
    num = store(svc).create(req.product, procedure, rec.kind, requester,
                            iso(svc.clock.now()), rec)
    rid = rollback_id(num)
    svc.actions.create(KIND, rid, status, digest=rec.digest, exclusive=f"rollback:{req.product}")
    svc.audit.append(requester, "rollback.declared", rid, {
        "product": req.product, "kind": rec.kind, "severity": req.severity,
        "impact": req.impact, "reason": req.reason, "from": rec.from_version,
        "to": rec.to_version, "components": list(req.components), "window": rec.window,
        "config_ref": rec.config_ref, "procedure": procedure, "digest": rec.digest})
    row = store(svc).get(num)
    assert row is not None
    return row


def _refusal(svc: Services, product: str, requester: str) -> Refused:
    """The answer to a second rollback of a product (audited ``rollback.refused``)."""
    other = store(svc).active_for(product)
    pointer = (f"{other.id} ({other.status}, declared {other.declared} by "
               f"<@{other.requester}>): `/rollback status {other.id}`") if other else "one"
    svc.audit.append(requester, "rollback.refused", product, {
        "reason": "another rollback is active", "active": other.id if other else None})
    hint = ("; only a rollback whose matrix cell is immediate supersedes a stopped one, "
            f"else `/rollback retry {other.id}` or `/rollback abort {other.id} REASON`"
            if other and other.status == "failed" else "")
    return Refused(f"{product} already has an active rollback {pointer}{hint}")
