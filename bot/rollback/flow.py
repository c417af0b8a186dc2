"""Rollback steps after the decision: approval, schedule, execute, verify, document, and the
human steps (cancel, retry, abort, resolve). Jobs and hooks re-enter here by rollback number.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from bot.clock import iso
from bot.errors import Refused, RelbotError
from bot.render.common import user as mention
from bot.render.rollback import rollback_blocks, summary
from bot.rollback import commands as cmds
from bot.rollback.service import (
    URGENT,
    _plan_digest,
    config,
    elapsed,
    product_cfg,
    store,
    workdir,
)
from handlers.base import post_message, update_message
from storage.rollback import RollbackRow

log = logging.getLogger(__name__)


def refresh(svc: Any, row: RollbackRow) -> RollbackRow:
    """Post or update the one rollback message; returns the fresh row."""
    row = store(svc).get(row.num) or row
    blocks = rollback_blocks(row, _approval_line(svc, row))
    shown = svc.features.setdefault("rollback.shown", {})
    key = hash((summary(row), repr(blocks)))
    if row.ts and shown.get(row.num) == key:
        return row  # nothing changed: spare Slack the chat.update
    shown[row.num] = key
    if row.ts:
        try:
            update_message(svc, row.channel, row.ts, summary(row), blocks)
        except Exception:  # noqa: BLE001 - the record is in SQLite; the message is only a view
            log.warning("could not update the message of %s", row.id, exc_info=True)
    else:
        channel = svc.config.current.channel
        ts = post_message(svc, summary(row), blocks, channel)
        store(svc).set_message(row.num, channel, ts)
        row.channel, row.ts = channel, ts
    return row


def say(svc: Any, row: RollbackRow, text: str) -> str:
    """Post ``text`` in the rollback's thread."""
    row = store(svc).get(row.num) or row
    return post_message(svc, text, None, row.channel, thread_ts=row.ts or None)


def _approval_line(svc: Any, row: RollbackRow) -> str:
    req = svc.approvals.for_subject("rollback", row.id)
    if req is None:
        return ""
    st = svc.approvals.state(req)
    who = ", ".join(f"<@{v.user}> at {v.at}" for v in st.approved_by) or "nobody yet"
    if row.status != "awaiting-approval":
        return f"approved by: {who}"
    reacts = " or ".join(f":{r}:" for r in req.policy.get("reactions", ()))
    return f"approved by: {who}\n{st.needs_text()}; react with {reacts}"


def mark(svc: Any, row: RollbackRow, step: str, status: str, note: str = "",
         actor: str = "relbot", **detail: Any) -> RollbackRow:
    """Record a step's status (audited with its timestamp) and update the message."""
    row = store(svc).get(row.num) or row
    steps = row.data.get("steps") or []
    at = iso(svc.clock.now())
    for s in steps:
        if s["name"] == step:
            s.update(status=status, at=at, note=note)
            if status == "running" or not s.get("started"):
                s["started"] = at
    svc.audit.append(actor, "rollback.step", row.id, {"step": step, "status": status,
                                                      "at": at, "note": note, **detail})
    store(svc).update_data(row.num, {"steps": steps})
    return refresh(svc, row)


def _oncall(svc: Any) -> str:
    """On-call as Slack mentions: ``<!subteam^S0ID|@oncall>`` for groups Slack knows."""
    out = []
    for o in config(svc).oncall:
        gid = None
        if o.startswith("@"):
            try:
                gid = svc.groups.group_id(o)
            except Exception:  # noqa: BLE001 - a lookup failure still pages by name
                gid = None
        out.append(f"<!subteam^{gid}|{o}>" if gid else mention(o))
    return " ".join(out)


def begin(svc: Any, row: RollbackRow, decision: Any) -> None:
    """First steps after the row exists: RB-IMM runs on, RB-PLN waits for approval."""
    d = row.data
    cell = decision.cell
    page = _oncall(svc) if cell.notify_oncall else ""
    if row.procedure == "RB-IMM":
        mark(svc, row, "Declare", "done", f"{d['severity']} x {d['impact']} by "
             f"<@{row.requester}>: {d['reason']}")
        say(svc, row, f":rotating_light: {row.id}: {row.product} rollback declared by "
                      f"<@{row.requester}> ({d['severity']}, {d['impact']}). "
                      + (f"On-call: {page}" if page else ""))
        _decided(svc, row, row.requester, "Decide", f"matrix: {decision.why}")
        execute(svc, row.num, row.requester)
        return
    mark(svc, row, "Assess", "done", f"{d['severity']} x {d['impact']}: {decision.why}")
    if page:
        say(svc, row, f"On-call: {page} — {row.product} {d['severity']} rollback planned.")
    if row.kind == "config":
        _plan_config(svc, row)
        return
    mark(svc, row, "Plan", "done", f"{d['from_version']} -> {d['to_version']}"
         + (f" at {d['window']}" if d["window"] else " when approved")
         + f"; plan digest {d['digest'][:12]}")
    if cell.approvals == 0:
        _decided(svc, row, "relbot", "Approve", "matrix: no approval required", "skipped")
        schedule(svc, store(svc).get(row.num))  # type: ignore[arg-type]
        return
    cfg = svc.config.current
    policy = cfg.approval.model_copy(update={"quorum": cell.approvals})
    req = svc.approvals.open(kind="rollback", subject=row.id, evidence_id=row.id,
                             digest=d["digest"], channel=row.channel, ts=row.ts,
                             requester=row.requester, policy=policy,
                             approvers=tuple(cfg.approvers))
    svc.scheduler.add_once(f"rollback-expire:{row.id}", datetime.fromisoformat(
        req.expires.replace("Z", "+00:00")), "rollback.expire", num=row.num)
    mark(svc, row, "Approve", "running", f"needs {cell.approvals} approval(s) on this message")
    _escalation(svc, row)


def _escalation(svc: Any, row: RollbackRow) -> None:
    if row.kind in URGENT and config(svc).oncall:
        when = datetime.fromisoformat(row.declared.replace("Z", "+00:00")) + \
            config(svc).escalate_after
        svc.scheduler.add_once(f"rollback-escalate:{row.id}", when, "rollback.escalate",
                               num=row.num)


def _decided(svc: Any, row: RollbackRow, actor: str, step: str, note: str,
             status: str = "done") -> None:
    now = iso(svc.clock.now())
    took = elapsed(row.declared, now)
    secs = int(took.total_seconds()) if took else 0
    store(svc).update_data(row.num, {"decided": now, "decision_seconds": secs})
    svc.audit.append(actor, "rollback.decided", row.id, {
        "cell": row.data["cell"], "matrix": row.data["cell_name"], "seconds": secs,
        "within_limit": secs <= config(svc).escalate_after.total_seconds()})
    mark(svc, row, step, status, f"{note} (decided {secs // 60}m{secs % 60:02d}s after "
                                 "declaration)")
    svc.scheduler.remove(f"rollback-escalate:{row.id}")


def escalate_job(svc: Any, num: int) -> None:
    """Scheduler job: no decision ``escalate_after`` after declaration -> page on-call."""
    row = store(svc).get(num)
    if row is None or row.data.get("decided") or row.status != "awaiting-approval":
        return
    after = config(svc).escalate_after
    store(svc).update_data(num, {"escalated": iso(svc.clock.now())})
    svc.audit.append("relbot", "rollback.escalated", row.id, {
        "after_seconds": int(after.total_seconds()), "oncall": list(config(svc).oncall)})
    text = (f":alarm_clock: {row.id} ({row.product}, {row.data['severity']}) has no decision "
            f"{int(after.total_seconds() // 60)} minutes after declaration. {_oncall(svc)} "
            f"please decide: approve on the rollback message or `/rollback cancel {row.id}`.")
    post_message(svc, text, None, row.channel)
    say(svc, row, text)
    refresh(svc, row)


def expire_job(svc: Any, num: int) -> None:
    """Scheduler job: approvals stop counting; an undecided rollback ends as expired."""
    row = store(svc).get(num)
    req = svc.approvals.for_subject("rollback", row.id) if row else None
    if row is None or req is None or row.status != "awaiting-approval":
        return
    if not (svc.approvals.state(req).expired
            and svc.approvals.transition(req.id, "open", "expired")):
        return
    if not store(svc).set_status(num, "expired", only_from=("awaiting-approval",)):
        return
    svc.scheduler.remove(f"rollback-escalate:{row.id}")
    store(svc).update_data(num, {"error": f"approval expired at {req.expires}"})
    svc.audit.append("relbot", "rollback.expired", row.id, {"expires": req.expires})
    mark(svc, row, "Approve", "failed", f"approval expired at {req.expires}; nothing ran")
    say(svc, row, f"{row.id} expired without enough approvals; declare a new rollback if it "
                  "is still needed.")


def on_approval(svc: Any, state: Any) -> None:
    """Approval hook: update the message; at quorum, decide and schedule."""
    row = store(svc).get(int(state.request.subject.removeprefix("RB-")))
    if row is None:
        return
    refresh(svc, row)
    if not (state.reached and svc.approvals.transition(state.request.id, "open", "approved")):
        return
    votes = [{"user": v.user, "at": v.at} for v in state.approved_by]
    store(svc).update_data(row.num, {"approvals": votes})
    _decided(svc, row, "relbot", "Approve",
             "approved by " + ", ".join(f"<@{v['user']}>" for v in votes))
    svc.scheduler.remove(f"rollback-expire:{row.id}")
    schedule(svc, store(svc).get(row.num))  # type: ignore[arg-type]


def schedule(svc: Any, row: RollbackRow) -> None:
    """Run now, or at the window through the persistent scheduler."""
    window = row.data.get("window")
    when = datetime.fromisoformat(window.replace("Z", "+00:00")) if window else None
    if when and when > svc.clock.now():
        if not store(svc).set_status(row.num, "scheduled", only_from=("awaiting-approval",)):
            return
        svc.scheduler.add_once(f"rollback-execute:{row.id}", when, "rollback.execute",
                               num=row.num)
        mark(svc, row, "Schedule", "done", f"runs at {window}")
        say(svc, row, f"{row.id} scheduled for {window}; `/rollback cancel {row.id}` "
                      "before then to call it off.")
        return
    mark(svc, row, "Schedule", "done", "runs at once (no window or window passed)")
    execute(svc, row.num, "relbot")


def execute_job(svc: Any, num: int) -> None:
    """Scheduler job at the window."""
    try:
        execute(svc, num, "relbot")
    except Refused as exc:
        row = store(svc).get(num)
        if row is not None and row.status == "scheduled":
            say(svc, row, f":no_entry: {exc.message}")


LEASE = timedelta(seconds=60)  # renewed every 20 s while a step runs


@contextmanager
def _running(svc: Any, row: RollbackRow) -> Iterator[None]:
    """Hold a short lease, renewed while a step runs: once a crash stops the renewals it
    lapses, and :func:`recover_job` can tell the rollback was interrupted."""
    key, stop = f"rollback:{row.product}", threading.Event()
    svc.locks.acquire(key, row.id, LEASE, f"rollback {row.id}")

    def renew() -> None:
        while not stop.wait(LEASE.total_seconds() / 3):
            svc.locks.acquire(key, row.id, LEASE, f"rollback {row.id}")

    beat = threading.Thread(target=renew, daemon=True, name=f"lease-{row.id}")
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()
        svc.locks.release(key, row.id)


def recover(svc: Any) -> None:
    """At start-up: check every rollback left executing (now, or once its lease lapses)."""
    for row in store(svc).active():
        if row.status == "executing":
            recover_job(svc, row.num)


def recover_job(svc: Any, num: int) -> None:
    """An executing rollback whose lease lapsed was interrupted: stop it for a human."""
    row = store(svc).get(num)
    if row is None or row.status != "executing":
        return
    lease = svc.locks.holder(f"rollback:{row.product}")
    if lease is not None:  # still running somewhere, or the lease has not lapsed yet
        when = datetime.fromisoformat(lease.expires.replace("Z", "+00:00"))
        svc.scheduler.add_once(f"rollback-recover:{row.id}", when + timedelta(seconds=1),
                               "rollback.recover", num=num)
        return
    step = next((s["name"] for s in row.data.get("steps", []) if s["status"] == "running"),
                "Execute")
    _fail(svc, row, step, "interrupted: relbot stopped while this step ran; check "
                          f"{row.product}, then retry or abort")


def execute(svc: Any, num: int, actor: str) -> RollbackRow:
    """Lock the product, run the command (per component if asked), then verify."""
    row = store(svc).get(num)
    assert row is not None
    with _running(svc, row):
        return _execute(svc, num, actor)


def _execute(svc: Any, num: int, actor: str) -> RollbackRow:
    row = store(svc).get(num)
    assert row is not None
    if row.status != "executing" and not store(svc).set_status(
            num, "executing", only_from=("scheduled", "awaiting-approval")):
        raise Refused(f"{row.id} is {row.status}")
    row = store(svc).get(num)  # type: ignore[assignment]
    p = product_cfg(svc, row.product)
    if _plan_digest(row.data, p) != row.data["digest"]:
        return _fail(svc, row, "Execute", "the rollback command or health check changed in the "
                     "config since the plan was approved; abort and start a new rollback")
    _lock(svc, row, actor)
    if row.data.get("failed_step") in (None, "Execute"):
        mark(svc, row, "Execute", "running", " ".join(p.command))
        for name, argv in _invocations(row, p):
            res = _run(svc, row, name, argv, p.timeout.total_seconds())
            if not res.ok:
                return _fail(svc, row, "Execute", f"`{' '.join(argv)}` {res.outcome()}")
        mark(svc, row, "Execute", "done", f"{len(_invocations(row, p))} command(s) exit 0")
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


def _run(svc: Any, row: RollbackRow, name: str, argv: list[str],
         timeout: float) -> cmds.CommandResult:
    secrets = tuple(svc.config.current.secrets)
    stream = cmds.Streamer(lambda text: say(svc, row, text),
                           lambda ts, text: update_message(svc, row.channel, ts, text),
                           f"`{' '.join(argv)}` ({name})")
    res = cmds.run(name, argv, workdir(svc), timeout, lambda: iso(svc.clock.now()), secrets,
                   stream)
    stream.finish(res.tail, f"{res.outcome()} · output sha256 {res.output_sha256[:12]}")
    e = svc.audit.append("relbot", "rollback.command", row.id, {
        "name": name, "argv": argv, "exit_code": res.exit_code, "timed_out": res.timed_out,
        "output_sha256": res.output_sha256, "seconds": res.seconds})
    key = "verification" if name.startswith("health") else "commands"
    fresh = store(svc).get(row.num) or row
    store(svc).update_data(row.num, {key: fresh.data.get(key, []) + [
        {**res.model_dump(exclude={"tail"}), "audit_seq": e.seq}]})
    return res


def verify(svc: Any, row: RollbackRow, actor: str) -> RollbackRow:
    """Health check with retries and exponential backoff, then communicate and document."""
    with _running(svc, row):
        return _verify(svc, row, actor)


def _verify(svc: Any, row: RollbackRow, actor: str) -> RollbackRow:
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
                getattr(svc.clock, "sleep", lambda s: None)(wait)
                wait *= 2
        else:
            return _fail(svc, row, step, f"health check failed {attempts} time(s)")
        if step == "Verify":
            mark(svc, row, step, "done", f"healthy after {i + 1} attempt(s)")
    return finish(svc, store(svc).get(row.num), actor)  # type: ignore[arg-type]


def finish(svc: Any, row: RollbackRow, actor: str) -> RollbackRow:
    """Communicate and document: channel notice, postmortem reminder, evidence digest."""
    from bot.rollback.evidence import evidence, record_digest

    d = row.data
    what = f"{row.product} rolled back {d['from_version']} -> {d['to_version']}" + (
        f" (components {', '.join(d['components'])})" if d["components"] else "")
    text = (f":white_check_mark: {row.id}: {what}. {row.product} stays locked until "
            f"`/rollback resolve {row.id} REASON`.")
    post_message(svc, text, None, row.channel)
    say(svc, row, text)
    if row.procedure == "RB-IMM":
        mark(svc, row, "Communicate", "done", "channel and thread notified")
    due = svc.clock.now() + config(svc).postmortem_after
    svc.scheduler.add_once(f"rollback-postmortem:{row.id}", due, "rollback.postmortem",
                           num=row.num)
    store(svc).set_status(row.num, "done", only_from=("executing",))
    store(svc).update_data(row.num, {"failed_step": None, "error": "", "completed":
                                     iso(svc.clock.now()), "postmortem_due": iso(due)})
    row = store(svc).get(row.num)  # type: ignore[assignment]
    mark(svc, row, "Document" if row.procedure == "RB-IMM" else "Verify & document", "done",
         f"evidence recorded; postmortem reminder {iso(due)}")
    digest = record_digest(evidence(svc, store(svc).get(row.num)))  # type: ignore[arg-type]
    svc.audit.append(actor, "rollback.completed", row.id, {"evidence_sha256": digest})
    return refresh(svc, row)


def _fail(svc: Any, row: RollbackRow, step: str, error: str) -> RollbackRow:
    """Stop: record the failure and leave the next step to a human."""
    store(svc).set_status(row.num, "failed")
    store(svc).update_data(row.num, {"failed_step": step, "error": error})
    row = mark(svc, row, step, "failed", error)
    oncall = _oncall(svc)
    text = (f":x: {row.id} stopped at {step}: {error}. Nothing further runs until a human "
            f"decides: `/rollback retry {row.id}` or `/rollback abort {row.id} REASON`."
            + (f" {oncall}" if oncall else ""))
    post_message(svc, text, None, row.channel)
    say(svc, row, text)
    return row


def _lock(svc: Any, row: RollbackRow, actor: str) -> None:
    if row.data.get("lock"):
        return
    d = row.data
    reason = f"rolled back to {d['to_version']}: {d['reason']}"
    fr = svc.locks.freeze(row.product, row.id, reason, actor)
    store(svc).update_data(row.num, {"lock": {"since": fr.since, "by": actor}})
    svc.audit.append(actor, "rollback.locked", row.id, {"product": row.product,
                                                        "reason": reason})


def postmortem_job(svc: Any, num: int) -> None:
    """Scheduler job: remind the channel that the postmortem is due."""
    row = store(svc).get(num)
    if row is None:
        return
    svc.audit.append("relbot", "rollback.postmortem.reminded", row.id, {})
    post_message(svc, f":memo: Postmortem due for {row.id} ({row.product} rolled back to "
                      f"{row.data['to_version']} on {row.declared}): {row.data['reason']}",
                 None, row.channel)


# --- config rollback (the sync engine does the work) -------------------------------------

def _plan_config(svc: Any, row: RollbackRow) -> None:
    from bot.sync import flow as sync_flow

    p = product_cfg(svc, row.product)
    sd = svc.config.current.sync(p.config_sync or "")
    if sd is None:
        _fail(svc, row, "Plan", f"config_sync {p.config_sync!r} is not in syncs:")
        return
    ref = row.data["config_ref"]
    try:
        plan_id = sync_flow.request_sync(svc, sd, row.requester, source_ref=ref,
                                         reason=f"config rollback {row.id}")
    except (Refused, RelbotError) as exc:
        _fail(svc, row, "Plan", f"config sync {sd.name} from {ref}: {exc}")
        return
    store(svc).update_data(row.num, {"sync_plan": plan_id})
    mark(svc, row, "Plan", "done", f"config sync {sd.name} from {ref}: dry-run {plan_id}")
    plan = sync_flow.store(svc).get(plan_id)
    if plan is not None and plan.status == "no-changes":
        _fail(svc, row, "Plan", f"{ref} has the same config as the target: nothing to revert")
        return
    mark(svc, row, "Approve", "running", f"react on the dry-run {plan_id} (sync approval rules)")
    _escalation(svc, row)


def on_sync_executed(svc: Any, plan_id: str, result: str, error: str) -> None:
    """Sync hook: a config rollback's sync ran (or failed)."""
    row = next((r for r in store(svc).recent(50)
                if r.kind == "config" and r.data.get("sync_plan") == plan_id), None)
    if row is None or row.status not in ("awaiting-approval", "failed"):
        return
    req = svc.approvals.for_subject("sync", plan_id)
    votes = svc.approvals.state(req).approved_by if req else ()
    store(svc).update_data(row.num, {"approvals": [{"user": v.user, "at": v.at}
                                                   for v in votes]})
    store(svc).set_status(row.num, "executing")
    if not store(svc).get(row.num).data.get("decided"):  # type: ignore[union-attr]
        _decided(svc, row, "relbot", "Approve", f"dry-run {plan_id} approved")
        mark(svc, row, "Schedule", "skipped", "the sync executes on approval")
    row = store(svc).get(row.num)  # type: ignore[assignment]
    e = svc.audit.append("relbot", "rollback.command", row.id, {
        "name": "config sync", "sync_plan": plan_id, "result": result, "error": error})
    store(svc).update_data(row.num, {"commands": row.data["commands"] + [{
        "name": "config sync", "sync_plan": plan_id, "result": result, "error": error,
        "audit_seq": e.seq}]})
    if result != "success":
        _fail(svc, row, "Execute", f"config sync {plan_id} {result}: {error}")
        return
    _lock(svc, row, "relbot")
    mark(svc, row, "Execute", "done", f"config sync {plan_id} applied")
    verify(svc, store(svc).get(row.num), "relbot")  # type: ignore[arg-type]


# --- human steps ---------------------------------------------------------------------------

def cancel(svc: Any, row: RollbackRow, actor: str, reason: str) -> RollbackRow:
    if not store(svc).set_status(row.num, "cancelled",
                                 only_from=("awaiting-approval", "scheduled")):
        raise Refused(f"{row.id} is {row.status}; only a rollback that has not started "
                      "executing can be cancelled")
    for job in ("execute", "escalate", "expire"):
        svc.scheduler.remove(f"rollback-{job}:{row.id}")
    req = svc.approvals.for_subject("rollback", row.id)
    if req is not None:
        svc.approvals.transition(req.id, "open", "cancelled")
    plan_id = row.data.get("sync_plan")
    if plan_id:
        from bot.sync import flow as sync_flow

        if sync_flow.store(svc).set_status(plan_id, "cancelled", f"rollback {row.id} cancelled",
                                           only_from=("planned",)):
            sreq = svc.approvals.for_subject("sync", plan_id)
            if sreq is not None:
                svc.approvals.transition(sreq.id, "open", "cancelled")
    store(svc).update_data(row.num, {"error": f"cancelled by {actor}: {reason}"})
    svc.audit.append(actor, "rollback.cancelled", row.id, {"reason": reason})
    say(svc, row, f"{row.id} cancelled by <@{actor}>: {reason or 'no reason given'}")
    return refresh(svc, row)


def retry(svc: Any, row: RollbackRow, actor: str) -> RollbackRow:
    if row.status != "failed":
        raise Refused(f"{row.id} is {row.status}; only a stopped (failed) rollback is retried")
    svc.audit.append(actor, "rollback.retry", row.id, {"step": row.data.get("failed_step")})
    say(svc, row, f"<@{actor}> retries {row.id} from {row.data.get('failed_step')}")
    if row.kind == "config" and row.data.get("failed_step") in ("Plan", "Execute"):
        store(svc).set_status(row.num, "awaiting-approval", only_from=("failed",))
        _plan_config(svc, store(svc).get(row.num))  # type: ignore[arg-type]
        return refresh(svc, row)
    if not store(svc).set_status(row.num, "executing", only_from=("failed",)):
        raise Refused(f"{row.id} moved meanwhile; check `/rollback status {row.id}`")
    step = row.data.get("failed_step")
    row = store(svc).get(row.num)  # type: ignore[assignment]
    if step and step.startswith("Verify"):
        return verify(svc, row, actor)
    return execute(svc, row.num, actor)


def abort(svc: Any, row: RollbackRow, actor: str, reason: str) -> RollbackRow:
    if not store(svc).set_status(row.num, "aborted", only_from=("failed",)):
        raise Refused(f"{row.id} is {row.status}; only a stopped (failed) rollback is aborted"
                      + ("; use /rollback cancel before it executes"
                         if row.status in ("awaiting-approval", "scheduled") else ""))
    svc.audit.append(actor, "rollback.aborted", row.id, {"reason": reason,
                                                         "step": row.data.get("failed_step")})
    locked = svc.locks.frozen(row.product)
    note = (f" {row.product} stays locked until `/rollback resolve {row.id} REASON`."
            if locked and locked.ref == row.id else "")
    say(svc, row, f"<@{actor}> aborted {row.id}: {reason}.{note}")
    return refresh(svc, row)


def resolve(svc: Any, row: RollbackRow, actor: str, reason: str) -> RollbackRow:
    if row.status not in ("done", "aborted"):
        raise Refused(f"{row.id} is {row.status}; finish it (or abort it) before lifting the "
                      "lock")
    fr = svc.locks.frozen(row.product)
    if fr is None or fr.ref != row.id:
        raise Refused(f"{row.product} is not locked by {row.id}"
                      + (f" (locked by {fr.ref})" if fr else ""))
    svc.locks.unfreeze(row.product)
    at = iso(svc.clock.now())
    store(svc).update_data(row.num, {"lock": {**(row.data.get("lock") or {}), "lifted": at,
                                              "lifted_by": actor, "lift_reason": reason}})
    svc.audit.append(actor, "rollback.unlocked", row.id, {"product": row.product,
                                                          "reason": reason})
    post_message(svc, f":unlock: {row.product} unlocked by <@{actor}> ({row.id}): {reason}. "
                      "Releases and syncs are allowed again.", None, row.channel)
    return refresh(svc, row)
