"""Paging on-call through PagerDuty (Events API v2) for rollbacks, beside the Slack mention.

``trigger`` when an immediate rollback is declared, a rollback stops (fails) or escalates;
``resolve`` when it completes, is resolved, or is cancelled after a page. The dedup key is
the rollback ID, so every event of one rollback lands on one incident. A page that cannot be
sent is audited, said in the rollback thread and retried by the scheduler with a doubling
wait; the rollback itself never waits for, or fails because of, PagerDuty.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.clock import iso
from bot.integrations.http import IntegrationError, Timing
from bot.integrations.pagerduty import PageEvent, PagerDuty
from bot.rollback.lookup import config, local_time, store
from bot.rollback.message import say
from bot.rollback.record import Page
from storage.rollback import RollbackRow

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)
JOB = "rollback.page"


def _cfg(svc: Services) -> Any:
    cfg = config(svc)
    return cfg.paging.pagerduty if cfg is not None else None


def trigger(svc: Services, row: RollbackRow, why: str) -> None:
    """Page on-call about ``row`` (no-op without ``rollback.paging.pagerduty``)."""
    if _cfg(svc) is not None:
        _send(svc, row.num, "trigger", why, 1)


def resolve(svc: Services, row: RollbackRow, why: str) -> None:
    """Close the rollback's PagerDuty incident, if it is open (paged and not resolved)."""
    pages = (store(svc).get(row.num) or row).record.pages
    if _cfg(svc) is not None and pages and pages[-1].action == "trigger":
        _send(svc, row.num, "resolve", why, 1)


OVER = ("done", "cancelled", "expired", "superseded")
"""A trigger still waiting to be re-sent for a rollback that ended so is not sent: nobody
needs waking for a rollback that is over."""


def retry_job(svc: Services, num: int, action: str, why: str, attempt: int) -> None:
    """Scheduler job: send a page that failed before."""
    row = store(svc).get(num)
    if _cfg(svc) is None or row is None:
        return
    if action == "trigger" and row.status in OVER:
        svc.audit.append("relbot", "rollback.page.dropped", row.id, {
            "service": "pagerduty", "action": action, "why": why, "status": row.status})
        _say(svc, row, f"PagerDuty trigger for {row.id} not re-sent: the rollback is "
                       f"{row.status}.")
        return
    _send(svc, num, action, why, attempt)


def _event(svc: Services, row: RollbackRow, action: str, why: str) -> PageEvent:
    rec = row.record
    return PageEvent(
        action, row.id,  # type: ignore[arg-type]
        summary=f"{row.id}: {row.product} rollback {rec.from_version} -> {rec.to_version}"
                f" ({rec.severity}, {rec.impact}): {why}",
        severity=_cfg(svc).pd_severity(rec.severity), source="relbot",
        component=row.product,
        details={"rollback": row.id, "product": row.product, "procedure": row.procedure,
                 "type": row.kind, "severity": rec.severity, "impact": rec.impact,
                 "reason": rec.reason, "status": row.status, "requester": row.requester,
                 "channel": row.channel})


def _send(svc: Services, num: int, action: str, why: str, attempt: int) -> None:
    row = store(svc).get(num)
    if row is None:
        return
    cfg = _cfg(svc)
    ev = _event(svc, row, action, why)
    try:
        PagerDuty(cfg, Timing(svc.clock.now, svc.clock.sleep)).send(ev)
    except IntegrationError as exc:
        _failed(svc, row, ev, why, attempt, str(exc))
        return
    except Exception as exc:  # noqa: BLE001 - paging must never break the rollback
        log.exception("paging %s failed", row.id)
        _failed(svc, row, ev, why, attempt, f"{type(exc).__name__}: {exc}")
        return
    at = iso(svc.clock.now())
    verb = "triggered" if action == "trigger" else "resolved"
    after = f" (attempt {attempt})" if attempt > 1 else ""
    with svc.db.tx():  # the page's record, its audit entry and its thread note together
        e = svc.audit.append("relbot", "rollback.page", row.id, {
            "service": "pagerduty", "action": action, "dedup_key": row.id,
            "severity": ev.severity, "why": why, "attempt": attempt})
        page = Page(action=action, why=why, severity=ev.severity, dedup_key=row.id, at=at,
                    attempt=attempt, audit_seq=e.seq)
        store(svc).modify(num, lambda rec: rec.pages.append(page))
        say(svc, row, f":pager: PagerDuty incident {row.id} {verb}{after}: {why}")


def _failed(svc: Services, row: RollbackRow, ev: PageEvent, why: str, attempt: int,
            error: str) -> None:
    cfg = _cfg(svc)
    last = attempt > cfg.retries
    wait = cfg.retry_after * (2 ** (attempt - 1))
    when = svc.clock.now() + wait
    e = svc.audit.append("relbot", "rollback.page.failed", row.id, {
        "service": "pagerduty", "action": ev.action, "why": why, "attempt": attempt,
        "error": error, "next_attempt": None if last else iso(when)})
    if last:
        _say(svc, row, f":x: PagerDuty {ev.action} for {row.id} failed {attempt} times "
                       f"({error}); giving up — page on-call by hand.")
        return
    svc.scheduler.add_once(f"rollback-page:{row.id}:{e.seq}", when, JOB,
                           num=row.num, action=ev.action, why=why, attempt=attempt + 1)
    _say(svc, row, f":warning: PagerDuty {ev.action} for {row.id} failed ({error}); "
                   f"retrying at {local_time(svc, iso(when))} (attempt {attempt + 1} of "
                   f"{cfg.retries + 1}).")


def _say(svc: Services, row: RollbackRow, text: str) -> None:
    try:
        say(svc, row, text)
    except Exception:  # noqa: BLE001 - the page (or its failure) is audited already
        log.warning("could not post the paging note of %s", row.id)

