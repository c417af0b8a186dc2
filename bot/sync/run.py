"""Running a plan: the quorum that approves it, its gates, one lease per target, the pushes,
how it ended.

An attempt ends in one transaction (:func:`_finish`): the plan's move (done,
partially-applied, failed or stale) with its outcomes, the sync log record, the
``sync.<result>`` audit entry, the outcome reply and the message update commit together or
not at all. Its leases are released and its followers told after that commit; a watchdog job
(:func:`bot.sync.close.recover_job`) finishes as interrupted a plan whose process died or
whose end could not be committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.actions import requirements
from bot.approvals import ApprovalState
from bot.errors import AlreadyRunning, LeaseHeld, NotVerified, Refused, RelbotError
from bot.messages import post_message
from bot.redact import scrub, scrub_text
from bot.render.sync import outcome_text
from bot.sync.close import expire_at
from bot.sync.config import SyncDef
from bot.sync.execute import apply_target, stale_reason
from bot.sync.gates import freeze_check, may_run
from bot.sync.message import refresh_message
from bot.sync.outcome import RETRYABLE, Outcome, git_error, retry_targets, verdict
from bot.sync.plan import Plan
from bot.sync.record import sync_record
from bot.sync.state import move, notify_finished, parent_of, store, target_key
from storage.sync import PlanRow

if TYPE_CHECKING:
    from bot.services import Services

@dataclass(frozen=True)
class End:
    """The move an attempt ends with (committed with its messages)."""

    status: str
    note: str
    only_from: tuple[str, ...]
    with_outcomes: bool = True


@dataclass
class Attempt:
    """One execution attempt of a plan: what it runs, what it holds, how it ended."""

    row: PlanRow
    plan: Plan
    sd: SyncDef
    executor: str
    retry: bool
    todo: list[int]
    outcomes: list[Outcome]
    started: str
    taken: list[str] = field(default_factory=list)
    result: str = "failed"
    error: str = ""
    ran: bool = False
    logged: bool = True
    end: End | None = None

    @property
    def holder(self) -> str:
        """Who holds the target leases: ``<plan id>:<executor>``."""
        return f"{self.plan.id}:{self.executor}"


def on_change(svc: Services, state: ApprovalState) -> None:
    """Approval hook: update the message; at quorum approve (and execute). The decision and
    the messages it changes commit together; the execution runs after the commit."""
    req, run = state.request, False
    with svc.db.tx():
        row = refresh_message(svc, req.subject, state)
        if row is None:
            return
        if not state.reached and req.status == "approved" and row.status == "planned":
            fresh = svc.approvals.reopen(req)  # withdrawn before it ran: votes count again
            if fresh is not None and fresh.expires != req.expires:
                expire_at(svc, req.subject, fresh.expires)
        elif state.reached and svc.approvals.transition(req.id, "open", "approved"):
            sd = svc.config.current.sync(row.sync)
            run = sd is None or sd.options.auto_apply
            if not run:
                post_message(svc, f"Approved. Run `/sync apply {row.id}` to execute.", None,
                             row.channel, row.ts)
    if run:
        try:
            execute(svc, req.subject, "relbot", confirmed=True)  # the vote just re-read them
        except (Refused, RelbotError):
            pass  # already reported in the thread


def execute(svc: Services, plan_id: str, executor: str, retry: bool = False,
            confirmed: bool = False) -> str:
    """Execute an approved plan (lock, stale check, apply each target, verify, log); with
    ``retry`` only the targets a partial execution left failed. Returns the result. The
    approval is first re-read from the reactions on the plan's message, unless ``confirmed``
    (the quorum vote that calls it has just done so).

    An execution that loses the race to another one of the same plan raises
    :class:`AlreadyRunning` after one audit entry, and says nothing in the plan's thread."""
    try:
        return _execute(svc, plan_id, executor, retry, confirmed)
    except AlreadyRunning as exc:
        svc.audit.append(executor, "sync.refused", plan_id, {
            "error": exc.message, "already_running": True, "retry": retry})
        exc.audited = True
        raise


def _attempt(svc: Services, plan_id: str, executor: str, retry: bool,
             confirmed: bool) -> Attempt:
    """The attempt, once the plan's status and approval let it start (else a refusal that
    is the caller's answer, said nowhere else)."""
    row = store(svc).get(plan_id)
    if row is None:
        raise Refused(f"no sync plan {plan_id}")
    plan = Plan.model_validate(row.plan)
    if retry:
        todo = retry_targets(row)
        outcomes = [Outcome.model_validate(o) for o in row.outcomes]
    else:
        may_run(svc, row, confirmed)
        todo = list(range(len(plan.targets)))
        outcomes = [Outcome(repo=t.repo, branch=t.branch, status="failed", sha_before=t.sha,
                            sha_after=t.sha, error="not run") for t in plan.targets]
    sd = svc.config.current.sync(plan.sync)
    if sd is None:
        raise Refused(f"sync {plan.sync} is no longer defined")
    return Attempt(row, plan, sd, executor, retry, todo, outcomes,
                   svc.clock.now().isoformat())


def _execute(svc: Services, plan_id: str, executor: str, retry: bool, confirmed: bool) -> str:
    a = _attempt(svc, plan_id, executor, retry, confirmed)
    lost = False
    try:  # a refusal from here on is reported in the plan's thread (unless the race was lost)
        _start(svc, a)
        a.ran = True
        _run_targets(svc, a.plan, a.sd, a.todo, a.outcomes)
        status, a.result, note = verdict(a.plan, a.outcomes)
        a.end = End(status, note, ("running",))
        a.error = "" if a.result == "success" else note
    except AlreadyRunning:
        lost = True
        raise
    except Refused as exc:
        a.error, a.result, a.logged = str(exc), "refused", not isinstance(exc, LeaseHeld)
        raise
    except Exception as exc:  # noqa: BLE001 - any failure: report, leave target as it was
        a.error = str(exc)  # before the move to running (a retry's status stays) or after it
        a.end = End("failed", a.error, ("planned", "running"))
        raise RelbotError(f"sync {plan_id} failed, target unchanged: {a.error}") from exc
    finally:
        _wind_up(svc, a, lost)
    if a.result == "failed":
        raise RelbotError(f"sync {plan_id} failed, target unchanged: {a.error}")
    return a.result


def _start(svc: Services, a: Attempt) -> None:
    """Every gate before the pushes: freeze, one lease per target (in ``a.taken``),
    freshness of the source and of the targets to run, then the move to ``running``."""
    plan, sd = a.plan, a.sd
    freeze_check(svc, sd, parent_of(svc, plan.id), f" The approval stands: `/sync apply "
                                                   f"{plan.id}` runs it once the lock is lifted.")
    allowed = RETRYABLE if a.retry else ("planned",)
    for k in [target_key(plan.targets[i]) for i in a.todo]:
        lease = svc.locks.acquire(k, a.holder, sd.lock_ttl, f"sync {plan.sync}")
        if lease is not None:
            if lease.holder.startswith(f"{plan.id}:"):  # this very plan: we lost the race
                raise AlreadyRunning(plan.id, lease.holder.split(":", 1)[1], lease.acquired)
            raise LeaseHeld(k.split(":", 1)[1], lease.holder, lease.acquired)
        a.taken.append(k)
    now = store(svc).get(plan.id)  # with the leases held: did another execution finish?
    if now is not None and now.status not in allowed:
        raise AlreadyRunning(plan.id, status=now.status)
    stale = stale_reason(plan.model_copy(update={"targets": [plan.targets[i] for i in a.todo]}),
                         sd.source.path)
    fresh = requirements.plan_fresh(stale, f"/sync plan {plan.sync}")
    if not fresh.ok:
        if not a.retry:  # moved with the refusal it is told by
            a.end = End("stale", stale or "", ("planned",), with_outcomes=False)
        raise fresh.refuse()
    with svc.db.tx():
        if not move(svc, plan.id, "running", only_from=allowed):
            raise AlreadyRunning(plan.id)
        # With it, a watchdog in the shared job table: if this process dies mid-sync,
        # whichever replica wakes after the leases lapse finishes the plan as interrupted.
        svc.scheduler.add_once(f"sync-recover:{plan.id}",
                               svc.clock.now() + sd.lock_ttl + timedelta(seconds=1),
                               "sync.recover", plan_id=plan.id)


def _run_targets(svc: Services, plan: Plan, sd: SyncDef, todo: list[int],
                 outcomes: list[Outcome]) -> None:
    """Apply each target in ``todo``, recording its outcome in place; one target's failure
    does not stop the others (each is its own push)."""
    msg = sd.options.commit_message.format(name=plan.sync, source_sha=plan.source_sha,
                                           evidence_id=plan.id)
    msg += f"\n\nrelbot-evidence: {plan.id}\nsource: {plan.source_sha}\ndigest: {plan.digest}"
    cache = svc.data_dir / "sync-cache" / sd.name
    for i in todo:
        t = plan.targets[i]
        if not t.changes:
            outcomes[i] = Outcome(repo=t.repo, branch=t.branch, status="unchanged",
                                  sha_before=t.sha, sha_after=t.sha)
            continue
        try:
            new = apply_target(plan, t, cache, msg)
            outcomes[i] = Outcome(repo=t.repo, branch=t.branch, status="moved",
                                  sha_before=t.sha, sha_after=new)
        except Exception as exc:  # noqa: BLE001 - recorded per target, reported in the thread
            # a push that landed but does not verify moved the target all the same
            now = exc.sha if isinstance(exc, NotVerified) else t.sha
            outcomes[i] = Outcome(repo=t.repo, branch=t.branch, status="failed",
                                  sha_before=t.sha, sha_after=now,
                                  error=scrub_text(git_error(exc), svc.config.current.secrets))


def _wind_up(svc: Services, a: Attempt, lost: bool) -> None:
    """After an attempt: its end committed (unless it lost the race), then the leases
    released and the followers told."""
    try:
        if not lost:
            _finish(svc, a)
    finally:
        for k in a.taken:
            svc.locks.release(k, a.holder)
    if not lost:
        notify_finished(svc, a.plan.id, a.result, a.error)


def _finish(svc: Services, a: Attempt) -> None:
    """One transaction: the end's move, the sync log record (unless ``a.logged`` is False:
    a sync refused because another holds its target ran nothing to record), the
    ``sync.<result>`` audit entry, the outcome reply in the plan's thread, the message, and
    the watchdog dropped (it stays when this cannot commit, and finishes the plan as
    interrupted)."""
    outcomes = a.outcomes if a.ran else []
    plan, row = a.plan, a.row
    record = sync_record(svc, plan, a.executor, a.started, a.result, a.error, outcomes, a.retry)
    text = outcome_text(plan, a.result, a.error, outcomes, a.retry)
    with svc.db.tx():
        if a.end is not None:
            move(svc, plan.id, a.end.status, a.end.note, only_from=a.end.only_from,
                 outcomes=a.outcomes if a.end.with_outcomes else None)
        if a.logged:
            store(svc).add_log(record["id"], plan.sync, plan.id, a.result, a.started,
                               scrub(record, svc.config.current.secrets))  # no secrets
        svc.audit.append(a.executor, f"sync.{a.result}", plan.id, {
            "digest": plan.digest, "error": a.error,
            "new_shas": [o.sha_after for o in outcomes if o.moved], "log": record["id"],
            "retry": a.retry, "targets": [o.model_dump() for o in outcomes]})
        post_message(svc, text, None, row.channel, row.ts)
        refresh_message(svc, plan.id)
        if a.ran:
            svc.scheduler.remove(f"sync-recover:{plan.id}")
