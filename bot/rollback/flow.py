"""From decision to execution: RB-IMM runs on, RB-PLN collects approvals on its message and
is scheduled at its window; escalation, expiry and the window are scheduler jobs. Each move
commits with its record, audit entries and messages; jobs are added after the commit."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.approvals import ApprovalState
from bot.clock import iso
from bot.errors import AlreadyRunning, Refused
from bot.rollback import paging
from bot.rollback.configsync import plan_config
from bot.rollback.decision import Decision
from bot.rollback.lookup import config, fresh, local_time, store
from bot.rollback.message import announce, oncall, refresh, say
from bot.rollback.outcome import close_unapproved, fail
from bot.rollback.record import Approval
from bot.rollback.run import execute
from bot.rollback.steps import decided, record_step
from storage.rollback import KIND, RollbackRow, parse_id

if TYPE_CHECKING:
    from bot.services import Services

URGENT = ("immediate", "partial")  # kinds whose undecided requests escalate to on-call


def begin(svc: Services, row: RollbackRow, decision: Decision) -> None:
    """First steps after the row exists: RB-IMM runs on, RB-PLN waits for approval."""
    rec, cell = row.record, decision.cell
    page = oncall(svc) if cell.notify_oncall else ""
    if row.procedure == "RB-IMM":
        with svc.db.tx():
            record_step(svc, row, "Declare", "done", f"{rec.severity} x {rec.impact} by "
                        f"<@{row.requester}>: {rec.reason}")
            say(svc, row, f":rotating_light: {row.id}: {row.product} rollback declared by "
                          f"<@{row.requester}> ({rec.severity}, {rec.impact}). "
                          + (f"On-call: {page}" if page else ""))
            refresh(svc, row)
        paging.trigger(svc, row, f"immediate rollback declared by {row.requester}: "
                                 f"{rec.reason}")
        with svc.db.tx():
            decided(svc, row, row.requester, "Decide", f"matrix: {decision.why}")
            refresh(svc, row)
        execute(svc, row.num, row.requester)
        return
    with svc.db.tx():
        record_step(svc, row, "Assess", "done", f"{rec.severity} x {rec.impact}: {decision.why}")
        if page:
            say(svc, row, f"On-call: {page} — {row.product} {rec.severity} rollback planned.")
        refresh(svc, row)
    if row.kind == "config":
        if plan_config(svc, row):
            schedule_escalation(svc, row)
        return
    _plan(svc, row, cell.approvals)


def _plan(svc: Services, row: RollbackRow, approvals: int) -> None:
    """RB-PLN's Plan step, then its approval (or none) and its jobs."""
    rec = row.record
    note = (f"{rec.from_version} -> {rec.to_version}"
            + (f" at {local_time(svc, rec.window)}" if rec.window else " when approved")
            + f"; plan digest {rec.digest[:12]}")
    if approvals == 0:
        with svc.db.tx():
            record_step(svc, row, "Plan", "done", note)
            decided(svc, row, "relbot", "Approve", "matrix: no approval required", "skipped")
            refresh(svc, row)
        schedule(svc, fresh(svc, row))
        return
    cfg = svc.config.current
    policy = cfg.approval.model_copy(update={"quorum": approvals})
    with svc.db.tx():
        record_step(svc, row, "Plan", "done", note)
        req = svc.approvals.open(kind="rollback", subject=row.id, evidence_id=row.id,
                                 digest=rec.digest, channel=row.channel, ts=row.ts,
                                 requester=row.requester, policy=policy,
                                 approvers=tuple(cfg.approvers))
        record_step(svc, row, "Approve", "running",
                    f"needs {approvals} approval(s) on this message")
        refresh(svc, row)
        expires = datetime.fromisoformat(req.expires)  # a job once committed (this may run
        svc.db.after_commit(lambda: svc.scheduler.add_once(  # inside the vote's transaction)
            f"rollback-expire:{row.id}", expires, "rollback.expire", num=row.num))
    schedule_escalation(svc, row)
    if rec.window:
        svc.scheduler.add_once(f"rollback-window:{row.id}", datetime.fromisoformat(rec.window),
                               "rollback.window", num=row.num)
    svc.approvals.opened(req)  # reactions made before the request existed count too


def schedule_escalation(svc: Services, row: RollbackRow) -> None:
    """Page on-call ``escalate_after`` the declaration if an urgent rollback is undecided."""
    if row.kind in URGENT and config(svc).oncall:
        when = datetime.fromisoformat(row.declared) + config(svc).escalate_after
        svc.scheduler.add_once(f"rollback-escalate:{row.id}", when, "rollback.escalate",
                               num=row.num)


def escalate_job(svc: Services, num: int) -> None:
    """Scheduler job: no decision ``escalate_after`` after declaration -> page on-call."""
    row = store(svc).get(num)
    if row is None or row.record.decided or row.status != "awaiting-approval":
        return
    after = config(svc).escalate_after
    mins = int(after.total_seconds() // 60)
    page = oncall(svc)
    with svc.db.tx():
        store(svc).update(num, escalated=iso(svc.clock.now()))
        svc.audit.append("relbot", "rollback.escalated", row.id, {
            "after_seconds": int(after.total_seconds()), "oncall": list(config(svc).oncall)})
        announce(svc, row, f":alarm_clock: {row.id} ({row.product}, {row.record.severity}) "
                           f"has no decision {mins} minutes after declaration. {page} please "
                           f"decide: approve on the rollback message or `/rollback cancel "
                           f"{row.id}`.")
        refresh(svc, row)
    paging.trigger(svc, row, f"no decision {mins} minutes after declaration (escalated)")


def expire_job(svc: Services, num: int) -> None:
    """Scheduler job: approvals stop counting; an undecided rollback ends as expired."""
    row = store(svc).get(num)
    req = svc.approvals.for_subject("rollback", row.id) if row else None
    if row is None or req is None or row.status != "awaiting-approval":
        return
    if not svc.approvals.state(req).expired:
        return
    with svc.db.tx():
        if not svc.approvals.transition(req.id, "open", "expired"):
            return
        if close_unapproved(svc, row, "expired", f"approval expired at {req.expires}",
                            f"approval expired at {req.expires}; nothing ran",
                            {"expires": req.expires}):
            say(svc, row, f"{row.id} expired without enough approvals; declare a new "
                          "rollback if it is still needed.")


def window_job(svc: Services, num: int) -> None:
    """Scheduler job at the window: say so if approvals are still missing."""
    row = store(svc).get(num)
    req = svc.approvals.for_subject("rollback", row.id) if row else None
    if row is None or req is None or row.status != "awaiting-approval":
        return
    window = row.record.window
    with svc.db.tx():
        svc.audit.append("relbot", "rollback.window.missed", row.id, {"window": window})
        announce(svc, row, f":hourglass: {row.id}: the window {local_time(svc, window)} has "
                           f"come and the plan still {svc.approvals.state(req).needs_text()}. "
                           "Approved later, it stops before executing for a human; "
                           f"`/rollback cancel {row.id}` calls it off.")


def on_approval(svc: Services, state: ApprovalState) -> None:
    """Approval hook: update the message; at quorum, decide and schedule."""
    row = store(svc).get(parse_id(state.request.subject) or 0)
    if row is None:
        return
    if state.request.status == "approved" and not state.reached:
        withdrawn(svc, row, state)
        return
    with svc.db.tx():
        if not (state.reached and svc.approvals.transition(state.request.id, "open",
                                                           "approved")):
            refresh(svc, row)
            return
        votes = [Approval(**v.record()) for v in state.approved_by]
        store(svc).update(row.num, approvals=votes)
        decided(svc, row, "relbot", "Approve",
                "approved by " + ", ".join(f"<@{v.user}>" for v in votes))
        svc.scheduler.remove(f"rollback-expire:{row.id}")
        svc.scheduler.remove(f"rollback-window:{row.id}")
        refresh(svc, row)
    schedule(svc, fresh(svc, row))


def withdrawn(svc: Services, row: RollbackRow, state: ApprovalState) -> None:
    """A vote was taken back after quorum: a rollback that has not started waits for
    approval again (its scheduled run is removed); one already running is not stopped."""
    waiting = ("scheduled",) if row.record.failed_step != "Schedule" else (
        "scheduled", "failed")  # stopped only because approved after its window
    with svc.db.tx():
        if not svc.actions.move(KIND, row.id, "awaiting-approval", only_from=waiting):
            _withdrawn_late(svc, fresh(svc, row), state)
            return
        req = svc.approvals.reopen(state.request) or state.request
        svc.scheduler.remove(f"rollback-execute:{row.id}")
        votes = [Approval(**v.record()) for v in state.approved_by]
        store(svc).update(row.num, approvals=votes, decided=None)
        svc.audit.append("relbot", "rollback.approval_withdrawn", row.id, {
            "request": req.id, "approvals": [v.user for v in votes]})
        open_state = svc.approvals.state(svc.approvals.get(req.id))  # type: ignore[arg-type]
        record_step(svc, row, "Schedule", "pending", "")
        record_step(svc, row, "Approve", "running",
                    f"approval withdrawn: {open_state.needs_text()}")
        say(svc, row, f":warning: {row.id} lost an approval and will not run until it is "
                      f"approved again ({open_state.needs_text()}).")
        refresh(svc, row)
        expires = datetime.fromisoformat(req.expires)  # a job once committed (this may run
        svc.db.after_commit(lambda: svc.scheduler.add_once(  # inside the vote's transaction)
            f"rollback-expire:{row.id}", expires, "rollback.expire", num=row.num))


def _withdrawn_late(svc: Services, row: RollbackRow, state: ApprovalState) -> None:
    if row.status in ("executing", "failed", "done", "aborted"):  # too late to matter
        svc.audit.append("relbot", "rollback.approval_withdrawn_late", row.id, {
            "approvals": [v.user for v in state.approved_by]})
        say(svc, row, f"An approval of {row.id} was withdrawn after it had started "
                      "executing; that does not stop it.")
    refresh(svc, row)


def schedule(svc: Services, row: RollbackRow) -> None:
    """Run now, or at the window through the persistent scheduler."""
    window = row.record.window
    when = datetime.fromisoformat(window) if window else None
    if when and when > svc.clock.now():
        with svc.db.tx():
            if not svc.actions.move(KIND, row.id, "scheduled", only_from=("awaiting-approval",)):
                return
            record_step(svc, row, "Schedule", "done",
                        f"runs at {local_time(svc, window)} ({window})")
            say(svc, row, f"{row.id} scheduled for {local_time(svc, window)}; "
                          f"`/rollback cancel {row.id}` before then to call it off.")
            refresh(svc, row)
        svc.scheduler.add_once(f"rollback-execute:{row.id}", when, "rollback.execute",
                               num=row.num)
        return
    if when:  # approved only after its window: do not run outside it unasked
        fail(svc, row, "Schedule", f"approved only after its window {local_time(svc, window)}"
                                   "; retry runs it now")
        return
    with svc.db.tx():
        record_step(svc, row, "Schedule", "done", "runs at once (no window)")
        refresh(svc, row)
    try:
        execute(svc, row.num, "relbot")
    except AlreadyRunning:
        pass  # the execution under way reports for itself
    except Refused as exc:
        say(svc, row, f":no_entry: {exc.message}")
