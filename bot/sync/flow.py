"""The sync workflow: Pre-Sync -> Dry-Run -> Approval -> Execute -> Post-Sync.

The entry points of every step, by module: :mod:`bot.sync.state` (the plan's action and its
one move), :mod:`bot.sync.message` (the channel message), :mod:`bot.sync.gates` (the
requirements), :mod:`bot.sync.run` (the quorum and the execution), :mod:`bot.sync.close`
(expiry, cancel, interruption); this module plans and opens the approval, and re-exports
the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.actions.record import Action
from bot.messages import post_message, upload_file
from bot.render.sync import change_list_file, summary_lines, summary_text
from bot.sync.close import INTERRUPTED, cancel, expire_at, expire_job, recover, recover_job
from bot.sync.config import SyncDef
from bot.sync.gates import freeze_check, gate_verdicts
from bot.sync.message import LIMIT, message_blocks, message_text, refresh_message
from bot.sync.plan import Plan, build_plan
from bot.sync.record import change_list_evidence, record_yaml
from bot.sync.run import execute, on_change
from bot.sync.state import (
    KIND,
    move,
    notify_finished,
    store,
)
from storage.approvals import RequestRow

if TYPE_CHECKING:
    from bot.services import Services

__all__ = [
    "INTERRUPTED", "KIND", "LIMIT", "cancel", "change_list_evidence", "execute",
    "expire_job", "gate_verdicts", "message_blocks", "message_text",
    "move", "notify_finished", "on_change", "plan_only", "record_yaml",
    "recover", "recover_job", "refresh_message", "request_sync", "store",
]


def plan_only(svc: Services, sd: SyncDef, source_ref: str | None = None,
              parent: Action | None = None) -> Plan:
    """Run the dry-run for ``sd`` into the private cache (never touches the target)."""
    freeze_check(svc, sd, parent)
    cfg = svc.config.current
    return build_plan(sd, cfg.base_dir, svc.data_dir / "sync-cache" / sd.name,
                      source_ref=source_ref, now=svc.clock.now())


def request_sync(svc: Services, sync_def: SyncDef, requester: str, *, source_ref: str | None = None,
                 reason: str | None = None, channel: str | None = None,
                 parent: Action | None = None) -> str:
    """Plan, store, post the summary and open the approval; returns the plan (evidence) ID.
    ``parent`` is the action that asked for it (a Config rollback): the plan's action is its
    child, let into the product the rollback holds, and the parent hears how it finished.
    The plan, its action, its messages and its approval commit together (the approval is
    open before any message is out, so every vote finds it)."""
    plan = plan_only(svc, sync_def, source_ref, parent)
    st = store(svc)
    main, chunks = summary_text(plan, LIMIT)  # rendered once: votes re-render only the status
    channel = channel or svc.config.current.channel
    with svc.db.tx():
        pid = st.insert_plan(plan.id, sync_def.name, plan.digest, plan.model_dump(), requester,
                             plan.created, summary=main)
        svc.actions.create(KIND, pid, "planned" if plan.changed else "no-changes",
                           digest=plan.digest, parent=parent.id if parent else None)
        if pid != plan.id:
            plan = plan.model_copy(update={"id": pid})
            main, chunks = summary_text(plan, LIMIT)
            st.set_summary(pid, main)
        listing = change_list_evidence(svc, plan)
        svc.audit.append(requester, "sync.planned", pid, {
            "sync": sync_def.name, "digest": plan.digest, "source_sha": plan.source_sha,
            "targets": [{"repo": t.repo, "branch": t.branch, "sha": t.sha}
                        for t in plan.targets],
            "counts": plan.counts(), "reason": reason or "",
            **({"change_list": listing} if listing else {})})
        ts = post_message(svc, main, None, channel)
        st.set_message(pid, channel, ts)
        req = _open_approval(svc, sync_def, plan, requester, channel, ts) if plan.changed \
            else None
        for chunk in chunks:
            post_message(svc, chunk, None, channel, ts)
        if listing:
            _post_listing(svc, plan, listing, channel, ts)
        if req is not None:
            expire_at(svc, pid, req.expires)
        refresh_message(svc, pid)
    if req is not None:  # Slack's reactions.get: after the commit
        svc.approvals.opened(req)  # reactions made before the request existed count too
    return pid


def _open_approval(svc: Services, sync_def: SyncDef, plan: Plan, requester: str, channel: str,
                   ts: str) -> RequestRow:
    cfg = svc.config.current
    policy = _policy(cfg.approval, sync_def.approval)
    approvers = tuple((sync_def.approval.approvers if sync_def.approval else None)
                      or sync_def.approvers or cfg.approvers)
    return svc.approvals.open(kind=KIND, subject=plan.id, evidence_id=plan.id,
                              digest=plan.digest, channel=channel, ts=ts,
                              requester=requester, policy=policy, approvers=approvers)


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


def _policy(base: Any, override: Any) -> Any:
    """``base`` with the override's set fields (``ApprovalPolicy.merged`` dumps durations to
    strings, so copy attribute values instead)."""
    if override is None:
        return base
    changes = {k: getattr(override, k) for k in override.model_fields_set if k != "approvers"}
    return base.model_copy(update=changes)
