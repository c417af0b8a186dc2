"""Executing a rollback: claim, lock, command runs, health check; then
:mod:`bot.rollback.outcome` finishes or stops it. Commands and health checks run outside any
transaction; each step change commits with the message update it decides."""

from __future__ import annotations

import logging
import shlex
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.clock import iso
from bot.errors import AlreadyRunning, Refused
from bot.messages import update_message
from bot.rollback import commands as cmds
from bot.rollback import gates
from bot.rollback.config import ProductRollback
from bot.rollback.lease import running
from bot.rollback.lookup import local_time, product_cfg, store, workdir
from bot.rollback.message import refresh, say
from bot.rollback.outcome import crashed, fail, finish, lock
from bot.rollback.record import CommandRun, RollbackRecord
from bot.rollback.steps import record_step
from storage.rollback import KIND, RollbackRow

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


WINDOW_GRACE = timedelta(minutes=15)
"""A scheduled rollback that starts later than this after its window (relbot was down)
stops for a human instead of running outside the window."""


def execute_job(svc: Services, num: int) -> None:
    """Scheduler job at the window."""
    row = store(svc).get(num)
    window = row.record.window if row is not None else None
    if row is not None and row.status == "scheduled" and window and \
            svc.clock.now() > datetime.fromisoformat(window) + WINDOW_GRACE:
        if svc.actions.move(KIND, row.id, "executing", only_from=("scheduled",)):
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
    fail(svc, row, row.record.current_step(), "interrupted: relbot stopped while this step "
         f"ran; check {row.product}, then retry or abort")


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


def approval_gap(svc: Services, row: RollbackRow) -> str | None:
    """Why a rollback whose cell needs approvals may not start executing now (None if it is
    approved, needs none, or has started already; a Config rollback's approval is its
    dry-run's)."""
    if not gates.needs_approval(row):
        return None
    v = gates.approval(svc, row)
    return None if v.ok else (v.refusal or v.text)


def _claim(svc: Services, row: RollbackRow) -> None:
    """Move a waiting or scheduled rollback to executing, re-checking its approval in the
    same transaction: a withdrawal commits before (and is seen) or after (too late)."""
    with svc.db.tx():
        if not svc.actions.move(KIND, row.id, "executing",
                                only_from=("scheduled", "awaiting-approval")):
            raise Refused(f"{row.id} is {row.status}")
        gap = approval_gap(svc, row)
        if gap:  # raised inside the transaction: the claim is rolled back with it
            raise Refused(f"{row.id} does not run: {gap}")


def _execute(svc: Services, num: int, actor: str) -> RollbackRow:
    row = store(svc).get(num)
    assert row is not None
    if row.status != "executing":
        _claim(svc, row)
    row = store(svc).get(num)  # type: ignore[assignment]
    p = product_cfg(svc, row.product)
    if row.record.plan_digest(p) != row.record.digest:
        return fail(svc, row, "Execute", "the rollback command or health check changed in the "
                    "config since the plan was approved; abort and start a new rollback")
    rec = row.record
    with svc.db.tx():
        lock(svc, row, actor)
        if rec.step_status("Schedule") == "failed":
            record_step(svc, row, "Schedule", "done", f"run at once by <@{actor}>")
        if rec.step_status("Execute") != "done":
            record_step(svc, row, "Execute", "running", " ".join(p.command))
        refresh(svc, row)
    if rec.step_status("Execute") != "done":
        runs = _invocations(row, p)
        for name, argv in runs:
            res = _run(svc, row, name, argv, p.timeout.total_seconds())
            if not res.ok:
                return fail(svc, row, "Execute", f"`{shlex.join(argv)}` {res.outcome()}")
        with svc.db.tx():
            record_step(svc, row, "Execute", "done", f"{len(runs)} command(s) exit 0")
            refresh(svc, row)
    return _verify(svc, store(svc).get(num), actor)  # type: ignore[arg-type]


def _values(row: RollbackRow) -> dict[str, str]:
    rec = row.record
    return {"product": row.product, "version": rec.to_version,
            "from_version": rec.from_version, "components": ",".join(rec.components),
            "component": "", "id": row.id}


def _invocations(row: RollbackRow, p: ProductRollback) -> list[tuple[str, list[str]]]:
    values = _values(row)
    comps = row.record.components
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
    health = name.startswith("health")

    def cite(rec: RollbackRecord) -> None:
        run = CommandRun(**res.model_dump(), audit_seq=e.seq)
        (rec.verification if health else rec.commands).append(run)

    with svc.db.tx():
        e = svc.audit.append("relbot", "rollback.command", row.id, {
            "name": name, "argv": argv, "exit_code": res.exit_code, "timed_out": res.timed_out,
            "output_sha256": res.output_sha256, "seconds": res.seconds})
        store(svc).modify(row.num, cite)
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
        with svc.db.tx():
            record_step(svc, row, step, "skipped" if step == "Verify" else "running",
                        "no health_check configured")
            refresh(svc, row)
        return finish(svc, store(svc).get(row.num), actor)  # type: ignore[arg-type]
    with svc.db.tx():
        record_step(svc, row, step, "running", " ".join(p.health_check))
        refresh(svc, row)
    argv = cmds.expand(p.health_check, _values(row))
    attempts = p.health_retries + 1
    wait = p.health_backoff.total_seconds()
    for i in range(attempts):
        res = _run(svc, row, f"health check {i + 1}/{attempts}", argv, p.timeout.total_seconds())
        if res.ok:
            break
        if i + 1 < attempts:
            say(svc, row, f"Health check {i + 1}/{attempts} {res.outcome()}; retrying in "
                          f"{wait:g}s")
            svc.clock.sleep(wait)
            wait *= 2
    else:
        return fail(svc, row, step, f"health check failed {attempts} time(s)")
    if step == "Verify":
        with svc.db.tx():
            record_step(svc, row, step, "done", f"healthy after {i + 1} attempt(s)")
            refresh(svc, row)
    return finish(svc, store(svc).get(row.num), actor)  # type: ignore[arg-type]

