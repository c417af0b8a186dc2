"""Executing a rollback: lease, command runs, health check, finish or stop for a human."""

from __future__ import annotations

import logging
import shlex
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.clock import iso
from bot.errors import AlreadyRunning, Refused
from bot.messages import post_message, update_message
from bot.rollback import commands as cmds
from bot.rollback import gates, paging
from bot.rollback.lease import running
from bot.rollback.message import announce, mark, oncall, refresh, say
from bot.rollback.service import (
    _plan_digest,
    config,
    local_time,
    product_cfg,
    store,
    workdir,
)
from storage.rollback import KIND, RollbackRow, parse_id, rollback_id

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


WINDOW_GRACE = timedelta(minutes=15)
"""A scheduled rollback that starts later than this after its window (relbot was down)
stops for a human instead of running outside the window."""


def execute_job(svc: Services, num: int) -> None:
    """Scheduler job at the window."""
    row = store(svc).get(num)
    window = row.data.get("window") if row is not None else None
    if row is not None and row.status == "scheduled" and window and \
            svc.clock.now() > datetime.fromisoformat(window) + WINDOW_GRACE:
        if svc.actions.move(KIND, rollback_id(num), "executing", only_from=("scheduled",)):
            fail(svc, row, "Schedule", f"its window {local_time(svc, window)} passed while "
                 f"relbot was not running (now {local_time(svc, iso(svc.clock.now()))}); "
                 "retry runs it now")
        return
    try:
        execute(svc, num, "relbot")
    except AlreadyRunning:
        return  # the execution under way reports for itself
    except Refused as exc:
        row = store(svc).get(num)
        if row is not None and row.status == "scheduled":
            say(svc, row, f":no_entry: {exc.message}")


def recover(svc: Services) -> None:
    """At start-up: check every rollback left executing (now, or once its lease lapses)."""
    for row in store(svc).active():
        if row.status == "executing":
            recover_job(svc, row.num)


def recover_job(svc: Services, num: int) -> None:
    """An executing rollback whose lease lapsed was interrupted: stop it for a human."""
    row = store(svc).get(num)
    if row is None or row.status != "executing":
        return
    lease = svc.locks.holder(f"rollback:{row.product}")
    if lease is not None:  # still running somewhere, or the lease has not lapsed yet
        when = datetime.fromisoformat(lease.expires)
        svc.scheduler.add_once(f"rollback-recover:{row.id}", when + timedelta(seconds=1),
                               "rollback.recover", num=num)
        return
    fail(svc, row, current_step(row), "interrupted: relbot stopped while this step ran; check "
                          f"{row.product}, then retry or abort")


def execute(svc: Services, num: int, actor: str) -> RollbackRow:
    """Lock the product, run the command (per component if asked), then verify."""
    row = store(svc).get(num)
    assert row is not None
    with running(svc, row):
        try:
            return _execute(svc, num, actor)
        except Refused:
            raise
        except Exception as exc:  # noqa: BLE001 - never leave a rollback stuck in executing
            return crashed(svc, num, exc)


def crashed(svc: Services, num: int, exc: Exception) -> RollbackRow:
    """An unexpected fault mid-step: stop the rollback there for a human, and say why."""
    log.error("rollback RB-%04d: %s", num, type(exc).__name__, exc_info=exc)
    row = store(svc).get(num)
    assert row is not None
    if row.status != "executing":
        return row
    return fail(svc, row, current_step(row), f"internal error ({type(exc).__name__}: {exc})")


def approval_gap(svc: Services, row: RollbackRow) -> str | None:
    """Why a rollback whose cell needs approvals may not start executing now (None if it is
    approved, needs none, or has started already; a Config rollback's approval is its
    dry-run's)."""
    if not gates.needs_approval(row):
        return None
    v = gates.approval(svc, row)
    return None if v.ok else (v.refusal or v.text)


def current_step(row: RollbackRow) -> str:
    """The step a stopped rollback resumes at: the first one not done or skipped."""
    return next((s["name"] for s in row.data.get("steps", [])
                 if s["status"] not in ("done", "skipped")), "Execute")


def _execute(svc: Services, num: int, actor: str) -> RollbackRow:
    row = store(svc).get(num)
    assert row is not None
    if row.status != "executing":
        # claim first, then check: a withdrawal either came before (and is seen here) or
        # finds the rollback already executing (too late, and said so)
        if not svc.actions.move(KIND, rollback_id(num), "executing",
                                     only_from=("scheduled", "awaiting-approval")):
            raise Refused(f"{row.id} is {row.status}")
        gap = approval_gap(svc, row)
        if gap:
            svc.actions.move(KIND, rollback_id(num), row.status, only_from=("executing",))
            raise Refused(f"{row.id} does not run: {gap}")
    row = store(svc).get(num)  # type: ignore[assignment]
    p = product_cfg(svc, row.product)
    if _plan_digest(row.data, p) != row.data["digest"]:
        return fail(svc, row, "Execute", "the rollback command or health check changed in the "
                     "config since the plan was approved; abort and start a new rollback")
    lock(svc, row, actor)
    steps = {x["name"]: x["status"] for x in row.data.get("steps", [])}
    if steps.get("Schedule") == "failed":
        mark(svc, row, "Schedule", "done", f"run at once by <@{actor}>")
    if steps.get("Execute") != "done":
        mark(svc, row, "Execute", "running", " ".join(p.command))
        runs = _invocations(row, p)
        for name, argv in runs:
            res = _run(svc, row, name, argv, p.timeout.total_seconds())
            if not res.ok:
                return fail(svc, row, "Execute", f"`{shlex.join(argv)}` {res.outcome()}")
        mark(svc, row, "Execute", "done", f"{len(runs)} command(s) exit 0")
    return _verify(svc, store(svc).get(num), actor)  # type: ignore[arg-type]


def _values(row: RollbackRow) -> dict[str, str]:
    d = row.data
    return {"product": row.product, "version": d["to_version"],
            "from_version": d["from_version"], "components": ",".join(d["components"]),
            "component": "", "id": row.id}


def _invocations(row: RollbackRow, p: Any) -> list[tuple[str, list[str]]]:
    values = _values(row)
    comps = row.data["components"]
    if comps and any("{component}" in a for a in p.command):
        return [(f"rollback {c}", cmds.expand(p.command, {**values, "component": c}))
                for c in comps]
    return [("rollback", cmds.expand(p.command, values))]


def _run(svc: Services, row: RollbackRow, name: str, argv: list[str],
         timeout: float) -> cmds.CommandResult:
    secrets = svc.config.current.secrets
    stream = cmds.Streamer(lambda text: say(svc, row, text),
                           lambda ts, text: update_message(svc, row.channel, ts, text),
                           f"`{shlex.join(argv)}` ({name})")
    res = cmds.run(name, argv, workdir(svc), timeout, lambda: iso(svc.clock.now()), secrets,
                   stream)
    stream.finish(res.tail, f"{res.outcome()} · output sha256 {res.output_sha256[:12]}")
    e = svc.audit.append("relbot", "rollback.command", row.id, {
        "name": name, "argv": argv, "exit_code": res.exit_code, "timed_out": res.timed_out,
        "output_sha256": res.output_sha256, "seconds": res.seconds})
    key = "verification" if name.startswith("health") else "commands"
    store(svc).modify(row.num, lambda data: data.setdefault(key, []).append(
        {**res.model_dump(), "audit_seq": e.seq}))
    return res


def verify(svc: Services, row: RollbackRow, actor: str) -> RollbackRow:
    """Health check with retries and exponential backoff, then communicate and document."""
    with running(svc, row):
        try:
            return _verify(svc, row, actor)
        except Exception as exc:  # noqa: BLE001 - never leave a rollback stuck in executing
            return crashed(svc, row.num, exc)


def _verify(svc: Services, row: RollbackRow, actor: str) -> RollbackRow:
    p = product_cfg(svc, row.product)
    step = "Verify" if row.procedure == "RB-IMM" else "Verify & document"
    if not p.health_check:
        mark(svc, row, step, "skipped" if step == "Verify" else "running",
             "no health_check configured")
    else:
        mark(svc, row, step, "running", " ".join(p.health_check))
        argv = cmds.expand(p.health_check, _values(row))
        attempts = p.health_retries + 1
        wait = p.health_backoff.total_seconds()
        for i in range(attempts):
            res = _run(svc, row, f"health check {i + 1}/{attempts}", argv,
                       p.timeout.total_seconds())
            if res.ok:
                break
            if i + 1 < attempts:
                say(svc, row, f"Health check {i + 1}/{attempts} {res.outcome()}; "
                              f"retrying in {wait:g}s")
                svc.clock.sleep(wait)
                wait *= 2
        else:
            return fail(svc, row, step, f"health check failed {attempts} time(s)")
        if step == "Verify":
            mark(svc, row, step, "done", f"healthy after {i + 1} attempt(s)")
    return finish(svc, store(svc).get(row.num), actor)  # type: ignore[arg-type]


def finish(svc: Services, row: RollbackRow, actor: str) -> RollbackRow:
    """Communicate and document: channel notice, postmortem reminder, evidence digest."""
    from bot.rollback.evidence import evidence, record_digest

    d = row.data
    came = d["from_version"]
    what = (f"{row.product} rolled back {came} -> {d['to_version']}" if came != "unknown"
            else f"{row.product} rolled back to {d['to_version']}") + (
        f" (components {', '.join(d['components'])})" if d["components"] else "")
    text = (f":white_check_mark: {row.id}: {what}. {row.product} stays locked until "
            f"`/rollback resolve {row.id} REASON`.")
    due = svc.clock.now() + config(svc).postmortem_after
    # Record the outcome first: a Slack hiccup below must not turn a done rollback into a
    # stuck one.
    svc.actions.move(KIND, row.id, "done", only_from=("executing",))
    store(svc).update_data(row.num, {"failed_step": None, "error": "", "completed":
                                     iso(svc.clock.now()), "postmortem_due": iso(due)})
    svc.scheduler.add_once(f"rollback-postmortem:{row.id}", due, "rollback.postmortem",
                           num=row.num)
    announce(svc, row, text)
    if row.procedure == "RB-IMM":
        mark(svc, row, "Communicate", "done", "channel and thread notified")
    row = store(svc).get(row.num)  # type: ignore[assignment]
    mark(svc, row, "Document" if row.procedure == "RB-IMM" else "Verify & document", "done",
         f"evidence recorded; postmortem reminder {local_time(svc, iso(due))}")
    digest = record_digest(evidence(svc, store(svc).get(row.num)))  # type: ignore[arg-type]
    svc.audit.append(actor, "rollback.completed", row.id, {"evidence_sha256": digest})
    paging.resolve(svc, row, f"completed: {what}")
    return refresh(svc, row)


def fail(svc: Services, row: RollbackRow, step: str, error: str) -> RollbackRow:
    """Stop: record the failure and leave the next step to a human."""
    if not svc.actions.move(KIND, row.id, "failed"):  # from executing or awaiting-approval
        log.info("%s moved on before it could stop at %s: %s", row.id, step, error)
        return store(svc).get(row.num) or row
    store(svc).update_data(row.num, {"failed_step": step, "error": error})
    try:
        row = mark(svc, row, step, "failed", error)
        page = oncall(svc)
        text = (f":x: {row.id} stopped at {step}: {error.rstrip('.')}. Nothing further runs "
                f"until a human decides: `/rollback retry {row.id}` or "
                f"`/rollback abort {row.id} REASON`."
                + (f" {page}" if page else ""))
        announce(svc, row, text)
    except Exception:  # noqa: BLE001 - the stop is recorded; telling Slack is best effort
        log.exception("could not report that %s stopped", row.id)
    paging.trigger(svc, row, f"stopped at {step}: {error}")
    return store(svc).get(row.num) or row


def lock(svc: Services, row: RollbackRow, actor: str) -> None:
    """Freeze the product for this rollback (taking over an earlier rollback's lock)."""
    if row.data.get("lock"):
        return
    d = row.data
    reason = f"rollback to {d['to_version']}: {d['reason']}"
    prev = svc.locks.frozen(row.product)
    fr = svc.locks.freeze(row.product, row.id, reason, actor)
    store(svc).update_data(row.num, {"lock": {"since": fr.since, "by": actor}})
    took = prev.ref if prev and prev.ref != row.id else None
    svc.audit.append(actor, "rollback.locked", row.id, {"product": row.product,
                                                        "reason": reason, "took_over": took})
    old = store(svc).get(parse_id(took) or 0) if took else None
    if old is not None:  # one lock per product: the newer rollback now holds it
        store(svc).modify(old.num, lambda data: data.update(
            lock={**(data.get("lock") or {}), "handed_to": row.id}))
        svc.audit.append(actor, "rollback.lock.handed_over", old.id, {"to": row.id})
        refresh(svc, old)


def postmortem_job(svc: Services, num: int) -> None:
    """Scheduler job: remind the channel that the postmortem is due."""
    row = store(svc).get(num)
    if row is None:
        return
    svc.audit.append("relbot", "rollback.postmortem.reminded", row.id, {})
    post_message(svc, f":memo: Postmortem due for {row.id} ({row.product} rolled back to "
                      f"{row.data['to_version']} on {row.declared}): {row.data['reason']}",
                 None, row.channel)
