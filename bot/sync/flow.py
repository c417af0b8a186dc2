"""The sync workflow: Pre-Sync -> Dry-Run -> Approval -> Execute -> Post-Sync."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import yaml

from bot.actions import Gate, Verdict, requirements
from bot.actions.hooks import FreezeExemption, SyncFollower
from bot.approvals import ApprovalState
from bot.errors import (
    AlreadyRunning,
    LeaseHeld,
    NotVerified,
    Refused,
    RelbotError,
)
from bot.messages import post_message, rendering, update_message, upload_file
from bot.redact import scrub, scrub_text
from bot.render.approval import approval_buttons, text_blocks, who_decided
from bot.render.sync import (
    as_file,
    change_list_file,
    outcome_text,
    summary_lines,
    summary_text,
)
from bot.sync.config import SyncDef
from bot.sync.execute import apply_target, stale_reason
from bot.sync.outcome import RETRYABLE, Outcome, git_error, retry_targets, verdict
from bot.sync.plan import Plan, build_plan
from storage.sync import PlanRow, SyncStore

if TYPE_CHECKING:
    from bot.services import Services

LIMIT = 40
KIND = "sync"
"""The action kind of a sync plan (action ``sync:<plan id>``, digest = the plan's)."""
log = logging.getLogger(__name__)


def store(svc: Services) -> SyncStore:
    """The sync store (``svc.syncs``)."""
    return svc.syncs


def move(svc: Services, plan_id: str, to: str, note: str = "", *,
         only_from: tuple[str, ...] | None = None, outcomes: list[Outcome] | None = None) -> bool:
    """Move the plan's action to ``to`` (the compare-and-set of :data:`bot.actions.machine.SYNC`)
    and record ``note`` (and the per-target ``outcomes``) with it, in one transaction
    (the caller's, when one is open); True if this caller moved it."""
    with svc.db.tx():
        if not svc.actions.move(KIND, plan_id, to, only_from=only_from):
            return False
        store(svc).set_result(plan_id, note, None if outcomes is None
                              else [o.model_dump() for o in outcomes])
    return True


def _target_key(t: Any) -> str:
    """The lease one execution per target holds."""
    return f"sync-target:{t.repo}#{t.branch}"


def exempt_from_freeze(svc: Services, fn: FreezeExemption) -> None:
    """Register ``fn(svc, product, ref) -> bool``: True lets the sync planned on behalf of
    ``ref`` (or the plan ``ref``) into a frozen product (a rollback's own config sync)."""
    svc.hooks.exempt_from_freeze(fn)


def _not_frozen(svc: Services, sd: SyncDef, ref: str | None = None, hint: str = "") -> Verdict:
    """The "product not frozen" requirement of a sync (planned for ``ref``)."""
    fr = svc.locks.frozen(sd.product) if sd.product else None
    return requirements.not_frozen(fr, sd.product or "", hint=hint,
                                   exempt=fr is not None and svc.hooks.exempt(svc, sd.product,
                                                                              ref))


def _freeze_check(svc: Services, sd: SyncDef, ref: str | None = None, hint: str = "") -> None:
    Gate([lambda: _not_frozen(svc, sd, ref, hint)]).enforce()


def plan_only(svc: Services, sd: SyncDef, source_ref: str | None = None,
              on_behalf_of: str | None = None) -> Plan:
    """Run the dry-run for ``sd`` into the private cache (never touches the target)."""
    _freeze_check(svc, sd, on_behalf_of)
    cfg = svc.config.current
    return build_plan(sd, cfg.base_dir, svc.data_dir / "sync-cache" / sd.name,
                      source_ref=source_ref, now=svc.clock.now())


def _status_text(svc: Services, row: PlanRow, st: ApprovalState | None = None) -> str:
    req = st.request if st is not None else svc.approvals.for_subject("sync", row.id)
    if row.status != "planned" or req is None:
        return f"status: {row.status}" + (f" ({row.note})" if row.note else "")
    st = st or svc.approvals.state(req)
    reacts = " or ".join(f":{r}:" for r in req.policy.get("reactions", ()))
    return (f"approved by: {who_decided(st.approved_by)}\n{st.needs_text()}; react with "
            f"{reacts} or press Approve")


def message_blocks(svc: Services, row: PlanRow, state: ApprovalState | None = None
                   ) -> list[dict] | None:
    """While the plan collects votes: its text and the Approve / Withdraw buttons (None
    afterwards: the message is plain text again and the buttons are gone)."""
    req = state.request if state is not None else svc.approvals.for_subject("sync", row.id)
    if row.status != "planned" or req is None or req.status != "open":
        return None
    sd = svc.config.current.sync(row.sync)
    into = ", ".join(f"{t.repo} {t.branch or ''}".strip() + (f" {t.path}" if t.path else "")
                     for t in (sd.all_targets() if sd else ()))
    what = f"sync *{row.sync}* ({row.id}, digest {row.digest[:12]}): one commit into {into}"
    return text_blocks(message_text(svc, row, state)) + [approval_buttons(req.id, what)]


def refresh_message(svc: Services, plan_id: str, state: ApprovalState | None = None
                    ) -> PlanRow | None:
    """Queue the plan message's update, rendered from the plan as it is now (``state``: its
    approval's, when the caller has it already); returns the row it rendered."""
    with rendering(svc, f"sync:{plan_id}"):
        row = store(svc).get(plan_id)
        if row is not None and row.ts:
            update_message(svc, row.channel, row.ts, message_text(svc, row, state),
                           message_blocks(svc, row, state))
        return row


def message_text(svc: Services, row: PlanRow, state: ApprovalState | None = None) -> str:
    """The channel message for a plan (first part; the rest is threaded); ``state``: its
    approval's, when the caller has it already (a vote)."""
    main = row.summary or summary_text(Plan.model_validate(row.plan), LIMIT)[0]
    return f"{main}\n{_status_text(svc, row, state)}"


def request_sync(svc: Services, sync_def: SyncDef, requester: str, *, source_ref: str | None = None,
                 reason: str | None = None, channel: str | None = None,
                 on_behalf_of: str | None = None) -> str:
    """Plan, store, post the summary and open the approval; returns the plan (evidence) ID.
    ``on_behalf_of`` names what asked for it (a rollback) for :func:`exempt_from_freeze`."""
    plan = plan_only(svc, sync_def, source_ref, on_behalf_of)
    st = store(svc)
    main, chunks = summary_text(plan, LIMIT)  # rendered once: votes re-render only the status
    with svc.db.tx():  # the plan and its action: one is never found without the other
        pid = st.insert_plan(plan.id, sync_def.name, plan.digest, plan.model_dump(), requester,
                             plan.created, summary=main)
        svc.actions.create(KIND, pid, "planned" if plan.changed else "no-changes",
                           digest=plan.digest)
    if pid != plan.id:
        plan = plan.model_copy(update={"id": pid})
        main, chunks = summary_text(plan, LIMIT)
        st.set_summary(pid, main)
    listing = change_list_evidence(svc, plan)
    svc.audit.append(requester, "sync.planned", plan.id, {
        "sync": sync_def.name, "digest": plan.digest, "source_sha": plan.source_sha,
        "targets": [{"repo": t.repo, "branch": t.branch, "sha": t.sha} for t in plan.targets],
        "counts": plan.counts(), "reason": reason or "",
        **({"change_list": listing} if listing else {})})
    channel = channel or svc.config.current.channel
    ts = post_message(svc, main, None, channel)
    st.set_message(plan.id, channel, ts)
    req = None
    if plan.changed:  # open before the continuation messages: votes cast while they post count
        req = _open_approval(svc, sync_def, plan, requester, channel, ts)
    for chunk in chunks:
        post_message(svc, chunk, None, channel, ts)
    if listing:
        _post_listing(svc, plan, listing, channel, ts)
    refresh_message(svc, plan.id)
    if req is not None:
        svc.approvals.opened(req)  # reactions made before the request existed count too
    return plan.id


def _open_approval(svc: Services, sync_def: SyncDef, plan: Plan, requester: str, channel: str,
                   ts: str) -> Any:
    cfg = svc.config.current
    policy = _policy(cfg.approval, sync_def.approval)
    approvers = tuple((sync_def.approval.approvers if sync_def.approval else None)
                      or sync_def.approvers or cfg.approvers)
    req = svc.approvals.open(kind="sync", subject=plan.id, evidence_id=plan.id,
                             digest=plan.digest, channel=channel, ts=ts,
                             requester=requester, policy=policy, approvers=approvers)
    sched = getattr(svc, "scheduler", None)
    if sched is not None and hasattr(sched, "add_once"):
        sched.add_once(f"sync-expire:{plan.id}", datetime.fromisoformat(req.expires),
                       "sync.expire", plan_id=plan.id)
    return req


def _post_listing(svc: Services, plan: Plan, listing: dict[str, Any], channel: str,
                  ts: str) -> None:
    """Upload the complete change list into the plan's thread; when Slack refuses the upload
    (an install without ``files:write``, say) the outbox posts the changes as thread messages
    instead, so every change is still shown (DR-03)."""
    name, content = change_list_file(plan)
    body = summary_lines(plan)[1]
    fallback = [f"Could not upload {name} ({{error}}); every change follows in this thread "
                "instead."] + ["\n".join(body[i:i + LIMIT]) for i in range(0, len(body), LIMIT)]
    upload_file(svc, channel, ts, name, content,
                f"All {listing['changes']} changes of {plan.id} (sha256 {listing['sha256']}, "
                "recorded in the evidence)", fallback=fallback)


def change_list_evidence(svc: Services, plan: Plan) -> dict[str, Any] | None:
    """For a plan whose change list is uploaded as a file: its name, the SHA-256 of exactly
    what is uploaded (secrets scrubbed) and its size (the audit entry and the sync log record
    carry it, DR-03); None otherwise."""
    if not as_file(plan, LIMIT):
        return None
    name, content = change_list_file(plan)
    content = scrub_text(content, svc.config.current.secrets)
    return {"file": name, "sha256": hashlib.sha256(content.encode()).hexdigest(),
            "changes": sum(len(t.changes) for t in plan.targets)}


def _policy(base: Any, override: Any) -> Any:
    """``base`` with the override's set fields (``ApprovalPolicy.merged`` dumps durations to
    strings, so copy attribute values instead)."""
    if override is None:
        return base
    changes = {k: getattr(override, k) for k in override.model_fields_set if k != "approvers"}
    return base.model_copy(update=changes)


def on_change(svc: Services, state: ApprovalState) -> None:
    """Approval hook: update the message; execute when quorum is reached."""
    row = refresh_message(svc, state.request.subject, state)
    if row is None:
        return
    if not state.reached:
        if state.request.status == "approved" and row.status == "planned":
            _reopen(svc, state.request)  # an approval withdrawn before it ran: votes count
        return
    sd = svc.config.current.sync(row.sync)
    manual = sd is not None and not sd.options.auto_apply
    with svc.db.tx():  # the approval and the message it causes commit together
        if not svc.approvals.transition(state.request.id, "open", "approved"):
            return
        if manual:
            post_message(svc, f"Approved. Run `/sync apply {row.id}` to execute.", None,
                         row.channel, row.ts)
    if manual:
        return
    try:
        execute(svc, row.id, "relbot", confirmed=True)  # the vote just re-read them
    except (Refused, RelbotError):
        pass  # already reported in the thread


def _reopen(svc: Services, req: Any) -> None:
    fresh = svc.approvals.reopen(req)
    sched = getattr(svc, "scheduler", None)
    if fresh is not None and fresh.expires != req.expires and sched is not None:
        sched.add_once(f"sync-expire:{req.subject}", datetime.fromisoformat(fresh.expires),
                       "sync.expire", plan_id=req.subject)


def expire_job(svc: Services, plan_id: str) -> None:
    """Scheduler job: mark a still-open plan expired and update its message."""
    row = store(svc).get(plan_id)
    req = svc.approvals.for_subject("sync", plan_id)
    if row is None or req is None or row.status != "planned":
        return
    if not svc.approvals.state(req).expired:
        return
    with svc.db.tx():  # the expiry and its message update commit together
        if not svc.approvals.transition(req.id, "open", "expired"):
            return
        move(svc, plan_id, "expired", f"approval expired at {req.expires}",
             only_from=("planned",))
        svc.audit.append("relbot", "sync.expired", plan_id, {"digest": row.digest})
        refresh_message(svc, plan_id)
    notify_finished(svc, plan_id, "expired", f"approval expired at {req.expires}")


def _approval(svc: Services, row: PlanRow, confirm: bool = False) -> tuple[Verdict, Any]:
    """The plan's "approval policy" requirement (and its request); ``confirm``: first
    reconcile the votes with the reactions Slack shows (before executing)."""
    req = svc.approvals.for_subject("sync", row.id)
    state = None
    if req is not None:
        state = (svc.approvals.confirm(req, notify=True) if confirm
                 else svc.approvals.state(req))
    v = requirements.approval_policy(state, missing=f"{row.id} has no approval request")
    if state is not None and state.expired:
        v = replace(v, refusal=f"{row.id}: approval expired at {req.expires}; run "
                               f"`/sync plan {row.sync}`")
    elif state is not None:
        v = replace(v, refusal=f"{row.id}: {v.text}")
    return v, req


def gate_verdicts(svc: Services, row: PlanRow) -> list[tuple[str, Verdict]]:
    """Every requirement of a planned sync, labelled as ``/sync status`` shows them: the same
    verdicts :func:`execute` refuses on."""
    sd = svc.config.current.sync(row.sync)
    plan = Plan.model_validate(row.plan)
    out = [("approval", _approval(svc, row)[0])]
    if sd is not None and sd.product:
        out.append(("freeze", _not_frozen(svc, sd, row.id)))
    stale = stale_reason(plan, sd.source.path if sd else None)
    out.append(("freshness", requirements.plan_fresh(stale, f"/sync plan {row.sync}")))
    for t in plan.targets:
        out.append((f"lock {t.repo}", requirements.lease_free(
            svc.locks.holder(_target_key(t)), f"{t.repo}#{t.branch}")))
    return out


def _gate(svc: Services, row: PlanRow, confirmed: bool) -> None:
    if row.status == "running":
        raise AlreadyRunning(row.id)
    if row.status != "planned":
        raise Refused(f"{row.id} is {row.status}" + (f" ({row.note})" if row.note else ""))
    verdict, req = _approval(svc, row, confirm=not confirmed)
    if verdict.ok:
        return
    if req is not None and svc.approvals.state(req).expired:
        expire_job(svc, row.id)
    raise verdict.refuse()


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


def _start(svc: Services, plan: Plan, sd: SyncDef, todo: list[int], holder: str, taken: list[str],
           retry: bool) -> None:
    """Every gate before the pushes: freeze, one lease per target (appended to ``taken``),
    freshness of the source and of the targets in ``todo``, then the move to ``running``."""
    st = store(svc)
    _freeze_check(svc, sd, plan.id, f" The approval stands: `/sync apply {plan.id}` runs "
                                    "it once the lock is lifted.")
    allowed = RETRYABLE if retry else ("planned",)
    for k in [_target_key(plan.targets[i]) for i in todo]:
        lease = svc.locks.acquire(k, holder, sd.lock_ttl, f"sync {plan.sync}")
        if lease is not None:
            if lease.holder.startswith(f"{plan.id}:"):  # this very plan: we lost the race
                raise AlreadyRunning(plan.id, lease.holder.split(":", 1)[1], lease.acquired)
            raise LeaseHeld(k.split(":", 1)[1], lease.holder, lease.acquired)
        taken.append(k)
    now = st.get(plan.id)  # with the leases held: did another execution finish meanwhile?
    if now is not None and now.status not in allowed:
        raise AlreadyRunning(plan.id, status=now.status)
    stale = stale_reason(plan.model_copy(update={"targets": [plan.targets[i] for i in todo]}),
                         sd.source.path)
    fresh = requirements.plan_fresh(stale, f"/sync plan {plan.sync}")
    if not fresh.ok:
        if not retry:
            move(svc, plan.id, "stale", stale or "", only_from=("planned",))
        raise fresh.refuse()
    if not move(svc, plan.id, "running", only_from=allowed):
        raise AlreadyRunning(plan.id)
    if getattr(svc, "scheduler", None) is not None:
        # A watchdog in the shared job table: if this process dies mid-sync, whichever
        # replica wakes after the leases lapse finishes the plan as interrupted.
        svc.scheduler.add_once(f"sync-recover:{plan.id}",
                               svc.clock.now() + sd.lock_ttl + timedelta(seconds=1),
                               "sync.recover", plan_id=plan.id)


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


def _execute(svc: Services, plan_id: str, executor: str, retry: bool, confirmed: bool) -> str:
    st = store(svc)
    row = st.get(plan_id)
    if row is None:
        raise Refused(f"no sync plan {plan_id}")
    plan = Plan.model_validate(row.plan)
    if retry:
        todo = retry_targets(row)
        outcomes = [Outcome.model_validate(o) for o in row.outcomes]
    else:
        _gate(svc, row, confirmed)
        todo = list(range(len(plan.targets)))
        outcomes = [Outcome(repo=t.repo, branch=t.branch, status="failed", sha_before=t.sha,
                            sha_after=t.sha, error="not run") for t in plan.targets]
    sd = svc.config.current.sync(plan.sync)
    if sd is None:
        raise Refused(f"sync {plan.sync} is no longer defined")
    holder = f"{plan.id}:{executor}"
    taken: list[str] = []
    started = svc.clock.now().isoformat()
    result, error, ran, lost, logged = "failed", "", False, False, True
    final: tuple[str, str, tuple[str, ...]] | None = None  # the move, made with the reply
    try:  # a refusal from here on is reported in the plan's thread (unless the race was lost)
        _start(svc, plan, sd, todo, holder, taken, retry)
        ran = True
        _run_targets(svc, plan, sd, todo, outcomes)
        status, result, error = verdict(plan, outcomes)
        final = (status, error, ("running",))
        error = "" if result == "success" else error
    except AlreadyRunning:
        lost = True
        raise
    except Refused as exc:
        error, result, logged = str(exc), "refused", not isinstance(exc, LeaseHeld)
        raise
    except Exception as exc:  # noqa: BLE001 - any failure: report, leave target as it was
        error = str(exc)  # before the move to running (a retry's status stays) or after it
        final = ("failed", error, ("planned", "running"))
        raise RelbotError(f"sync {plan.id} failed, target unchanged: {error}") from exc
    finally:
        try:  # before the leases go, as one transaction: the move, log, audit, messages
            if not lost:
                _post_sync(svc, row, plan, executor, started, result, error,
                           outcomes if ran else [], retry, logged, final)
        finally:
            for k in taken:
                svc.locks.release(k, holder)
        if ran and getattr(svc, "scheduler", None) is not None:  # (if that transaction
            svc.scheduler.remove(f"sync-recover:{plan.id}")  # failed, the watchdog stays)
        if not lost:
            notify_finished(svc, plan.id, result, error)
    if result == "failed":
        raise RelbotError(f"sync {plan.id} failed, target unchanged: {error}")
    return result


INTERRUPTED = "interrupted: relbot stopped while this sync ran"


def recover(svc: Services) -> None:
    """At start-up: check each plan a stopped relbot left running (a scheduler job, so it runs
    once every feature has registered its :func:`on_finished` hook)."""
    for row in store(svc).with_status("running"):
        svc.scheduler.add_once(f"sync-recover:{row.id}", svc.clock.now(), "sync.recover",
                               plan_id=row.id)


def recover_job(svc: Services, plan_id: str) -> None:
    """Finish a plan left running as interrupted once its target leases have lapsed (until
    then it may still be running elsewhere); its followers hear ``failed``."""
    row = store(svc).get(plan_id)
    if row is None or row.status != "running":
        return
    plan = Plan.model_validate(row.plan)
    live = [lease for lease in (svc.locks.holder(_target_key(t)) for t in plan.targets)
            if lease is not None and lease.holder.startswith(f"{plan_id}:")]
    if live:
        when = max(datetime.fromisoformat(lease.expires) for lease in live)
        svc.scheduler.add_once(f"sync-recover:{plan_id}", when + timedelta(seconds=1),
                               "sync.recover", plan_id=plan_id)
        return
    with svc.db.tx():  # the interruption and its messages commit together
        if not move(svc, plan_id, "failed", INTERRUPTED, only_from=("running",)):
            return
        svc.audit.append("relbot", "sync.interrupted", plan_id, {"digest": row.digest})
        post_message(svc, f":warning: Sync {plan_id} was interrupted: relbot stopped while it "
                          f"ran. Check the target, then `/sync plan {row.sync}` for a new "
                          "dry-run.", None, row.channel, row.ts or None)
        refresh_message(svc, plan_id)
    notify_finished(svc, plan_id, "failed", INTERRUPTED)


def on_finished(svc: Services, fn: SyncFollower) -> None:
    """Call ``fn(svc, plan_id, result, error)`` after every execution attempt, expiry or
    cancel of a plan (rollbacks use it to follow the config sync they started)."""
    svc.hooks.follow_syncs(fn)


def notify_finished(svc: Services, plan_id: str, result: str, error: str = "") -> None:
    """Tell the :func:`on_finished` followers; a follower's fault never breaks the sync."""
    svc.hooks.sync_finished(svc, plan_id, result, error)


def _post_sync(svc: Services, row: PlanRow, plan: Plan, executor: str, started: str, result: str,
               error: str, outcomes: list[Outcome], retry: bool = False,
               logged: bool = True,
               final: tuple[str, str, tuple[str, ...]] | None = None) -> None:
    """After an execution attempt, in one transaction: the plan's ``final`` move (status,
    note, from) with its outcomes, the sync log record (unless ``logged`` is False), the
    ``sync.<result>`` audit entry, the outcome reply in the plan's thread and the refreshed
    plan message."""
    record = _sync_record(svc, plan, executor, started, result, error, outcomes, retry)
    new_shas = [o.sha_after for o in outcomes if o.moved]
    with svc.db.tx():
        if final is not None:
            move(svc, plan.id, final[0], final[1], only_from=final[2], outcomes=outcomes)
        if logged:  # a sync refused because another holds its target ran nothing to record
            store(svc).add_log(record["id"], plan.sync, plan.id, result, started,
                               scrub(record, svc.config.current.secrets))  # no secrets
        svc.audit.append(executor, f"sync.{result}", plan.id,
                         {"digest": plan.digest, "error": error, "new_shas": new_shas,
                          "log": record["id"], "retry": retry,
                          "targets": [o.model_dump() for o in outcomes]})
        post_message(svc, outcome_text(plan, result, error, outcomes, retry), None,
                     row.channel, row.ts)
        refresh_message(svc, plan.id)


def _sync_record(svc: Services, plan: Plan, executor: str, started: str, result: str, error: str,
                 outcomes: list[Outcome], retry: bool) -> dict[str, Any]:
    """The sync log record of one execution attempt (the evidence; not yet scrubbed)."""
    req = svc.approvals.for_subject("sync", plan.id)
    votes = svc.approvals.state(req).approved_by if req else ()
    return {
        "id": "SL-" + hashlib.sha256(f"{plan.id}{started}".encode()).hexdigest()[:10],
        "sync_name": plan.sync, "type": plan.type, "evidence_id": plan.id,
        "source": {"repo": plan.source_repo, "ref": plan.source_ref, "sha": plan.source_sha},
        "targets": [{"repo": t.repo, "branch": t.branch, "sha_before": t.sha,
                     "sha_after": outcomes[i].sha_after if outcomes else None,
                     **({"status": outcomes[i].status, "error": outcomes[i].error}
                        if outcomes else {})}
                    for i, t in enumerate(plan.targets)],
        "dry_run_digest": plan.digest,
        "approvers": [v.record() for v in votes],
        "executor": executor, "started": started, "ended": svc.clock.now().isoformat(),
        "result": result, "error": error, "retry": retry,
        **({"change_list": listing} if (listing := change_list_evidence(svc, plan)) else {}),
        "changes": [{"status": c.status, "path": c.path, "old_path": c.old_path,
                     "added": c.added, "removed": c.removed, "binary": c.binary}
                    for t in plan.targets for c in t.changes],
    }


def record_yaml(record: dict) -> str:
    """A sync log record as YAML."""
    return yaml.safe_dump(record, sort_keys=False)
