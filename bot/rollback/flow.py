"""From decision to execution: RB-IMM runs on, RB-PLN collects approvals on its message and
is scheduled at its window; escalation and expiry are scheduler jobs."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.clock import iso
from bot.errors import AlreadyRunning, Refused
from bot.rollback import paging
from bot.rollback.configsync import plan_config
from bot.rollback.message import (
    announce,
    close_unapproved,
    decided,
    mark,
    oncall,
    refresh,
    say,
)
from bot.rollback.run import execute, fail
from bot.rollback.service import config, local_time, schedule_escalation, store
from storage.rollback import KIND, RollbackRow, parse_id

if TYPE_CHECKING:
    from bot.services import Services


def begin(svc: Services, row: RollbackRow, decision: Any) -> None:
    """First steps after the row exists: RB-IMM runs on, RB-PLN waits for approval."""
    d = row.data
    cell = decision.cell
    page = oncall(svc) if cell.notify_oncall else ""
    if row.procedure == "RB-IMM":
        mark(svc, row, "Declare", "done", f"{d['severity']} x {d['impact']} by "
             f"<@{row.requester}>: {d['reason']}")
        say(svc, row, f":rotating_light: {row.id}: {row.product} rollback declared by "
                      f"<@{row.requester}> ({d['severity']}, {d['impact']}). "
                      + (f"On-call: {page}" if page else ""))
        paging.trigger(svc, row, f"immediate rollback declared by {row.requester}: "
                                 f"{d['reason']}")
        decided(svc, row, row.requester, "Decide", f"matrix: {decision.why}")
        execute(svc, row.num, row.requester)
        return
    mark(svc, row, "Assess", "done", f"{d['severity']} x {d['impact']}: {decision.why}")
    if page:
        say(svc, row, f"On-call: {page} — {row.product} {d['severity']} rollback planned.")
    if row.kind == "config":
        plan_config(svc, row)
        return
    mark(svc, row, "Plan", "done", f"{d['from_version']} -> {d['to_version']}"
         + (f" at {local_time(svc, d['window'])}" if d["window"] else " when approved")
         + f"; plan digest {d['digest'][:12]}")
    if cell.approvals == 0:
        decided(svc, row, "relbot", "Approve", "matrix: no approval required", "skipped")
        schedule(svc, store(svc).get(row.num))  # type: ignore[arg-type]
        return
    cfg = svc.config.current
    policy = cfg.approval.model_copy(update={"quorum": cell.approvals})
    req = svc.approvals.open(kind="rollback", subject=row.id, evidence_id=row.id,
                             digest=d["digest"], channel=row.channel, ts=row.ts,
                             requester=row.requester, policy=policy,
                             approvers=tuple(cfg.approvers))
    svc.scheduler.add_once(f"rollback-expire:{row.id}", datetime.fromisoformat(
        req.expires), "rollback.expire", num=row.num)
    mark(svc, row, "Approve", "running", f"needs {cell.approvals} approval(s) on this message")
    schedule_escalation(svc, row)
    if d["window"]:
        svc.scheduler.add_once(f"rollback-window:{row.id}", datetime.fromisoformat(
            d["window"]), "rollback.window", num=row.num)
    svc.approvals.opened(req)  # reactions made before the request existed count too


def escalate_job(svc: Services, num: int) -> None:
    """Scheduler job: no decision ``escalate_after`` after declaration -> page on-call."""
    row = store(svc).get(num)
    if row is None or row.data.get("decided") or row.status != "awaiting-approval":
        return
    after = config(svc).escalate_after
    store(svc).update_data(num, {"escalated": iso(svc.clock.now())})
    svc.audit.append("relbot", "rollback.escalated", row.id, {
        "after_seconds": int(after.total_seconds()), "oncall": list(config(svc).oncall)})
    text = (f":alarm_clock: {row.id} ({row.product}, {row.data['severity']}) has no decision "
            f"{int(after.total_seconds() // 60)} minutes after declaration. {oncall(svc)} "
            f"please decide: approve on the rollback message or `/rollback cancel {row.id}`.")
    announce(svc, row, text)
    paging.trigger(svc, row, f"no decision {int(after.total_seconds() // 60)} minutes after "
                             "declaration (escalated)")
    refresh(svc, row)


def expire_job(svc: Services, num: int) -> None:
    """Scheduler job: approvals stop counting; an undecided rollback ends as expired."""
    row = store(svc).get(num)
    req = svc.approvals.for_subject("rollback", row.id) if row else None
    if row is None or req is None or row.status != "awaiting-approval":
        return
    if not (svc.approvals.state(req).expired
            and svc.approvals.transition(req.id, "open", "expired")):
        return
    if not close_unapproved(svc, row, "expired", f"approval expired at {req.expires}",
                            f"approval expired at {req.expires}; nothing ran",
                            {"expires": req.expires}):
        return
    say(svc, row, f"{row.id} expired without enough approvals; declare a new rollback if it "
                  "is still needed.")


def window_job(svc: Services, num: int) -> None:
    """Scheduler job at the window: say so if approvals are still missing."""
    row = store(svc).get(num)
    req = svc.approvals.for_subject("rollback", row.id) if row else None
    if row is None or req is None or row.status != "awaiting-approval":
        return
    svc.audit.append("relbot", "rollback.window.missed", row.id, {"window": row.data["window"]})
    text = (f":hourglass: {row.id}: the window {local_time(svc, row.data['window'])} has come "
            f"and the plan still {svc.approvals.state(req).needs_text()}. Approved later, it "
            f"stops before executing for a human; `/rollback cancel {row.id}` calls it off.")
    announce(svc, row, text)


def on_approval(svc: Services, state: Any) -> None:
    """Approval hook: update the message; at quorum, decide and schedule."""
    row = store(svc).get(parse_id(state.request.subject) or 0)
    if row is None:
        return
    refresh(svc, row)
    if state.request.status == "approved" and not state.reached:
        withdrawn(svc, row, state)
        return
    if not (state.reached and svc.approvals.transition(state.request.id, "open", "approved")):
        return
    votes = [v.record() for v in state.approved_by]
    store(svc).update_data(row.num, {"approvals": votes})
    decided(svc, row, "relbot", "Approve",
             "approved by " + ", ".join(f"<@{v['user']}>" for v in votes))
    svc.scheduler.remove(f"rollback-expire:{row.id}")
    svc.scheduler.remove(f"rollback-window:{row.id}")
    schedule(svc, store(svc).get(row.num))  # type: ignore[arg-type]


def withdrawn(svc: Services, row: RollbackRow, state: Any) -> None:
    """A vote was taken back after quorum: a rollback that has not started waits for
    approval again (its scheduled run is removed); one already running is not stopped."""
    waiting = ("scheduled",) if row.data.get("failed_step") != "Schedule" else (
        "scheduled", "failed")  # stopped only because approved after its window
    if not svc.actions.move(KIND, row.id, "awaiting-approval", only_from=waiting):
        if row.status in ("executing", "failed", "done", "aborted"):  # too late to matter
            svc.audit.append("relbot", "rollback.approval_withdrawn_late", row.id, {
                "approvals": [v.user for v in state.approved_by]})
            say(svc, row, f"An approval of {row.id} was withdrawn after it had started "
                          "executing; that does not stop it.")
        return
    req = svc.approvals.reopen(state.request) or state.request
    svc.scheduler.remove(f"rollback-execute:{row.id}")
    svc.scheduler.add_once(f"rollback-expire:{row.id}", datetime.fromisoformat(req.expires),
                           "rollback.expire", num=row.num)
    votes = [v.record() for v in state.approved_by]
    store(svc).update_data(row.num, {"approvals": votes, "decided": None})
    svc.audit.append("relbot", "rollback.approval_withdrawn", row.id, {
        "request": req.id, "approvals": [v["user"] for v in votes]})
    open_state = svc.approvals.state(svc.approvals.get(req.id))
    mark(svc, row, "Schedule", "pending", "")
    mark(svc, row, "Approve", "running", f"approval withdrawn: {open_state.needs_text()}")
    say(svc, row, f":warning: {row.id} lost an approval and will not run until it is "
                  f"approved again ({open_state.needs_text()}).")


def schedule(svc: Services, row: RollbackRow) -> None:
    """Run now, or at the window through the persistent scheduler."""
    window = row.data.get("window")
    when = datetime.fromisoformat(window) if window else None
    if when and when > svc.clock.now():
        if not svc.actions.move(KIND, row.id, "scheduled", only_from=("awaiting-approval",)):
            return
        svc.scheduler.add_once(f"rollback-execute:{row.id}", when, "rollback.execute",
                               num=row.num)
        mark(svc, row, "Schedule", "done", f"runs at {local_time(svc, window)} ({window})")
        say(svc, row, f"{row.id} scheduled for {local_time(svc, window)}; "
                      f"`/rollback cancel {row.id}` before then to call it off.")
        return
    if when:  # approved only after its window: do not run outside it unasked
        fail(svc, row, "Schedule", f"approved only after its window {local_time(svc, window)}"
                                   "; retry runs it now")
        return
    mark(svc, row, "Schedule", "done", "runs at once (no window)")
    try:
        execute(svc, row.num, "relbot")
    except AlreadyRunning:
        pass  # the execution under way reports for itself
    except Refused as exc:
        say(svc, row, f":no_entry: {exc.message}")
