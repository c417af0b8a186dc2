"""/sync subcommands: list, plan (dry-run), status, apply, cancel, log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot import lazy
from bot.errors import Refused, UsageError
from handlers.base import CommandContext, Reply, SubcommandSpec

if TYPE_CHECKING:
    from bot.services import Services
    from bot.sync import flow, outcome
else:  # imported when a /sync command or job first runs (bot/lazy.py)
    flow, outcome = lazy.module("bot.sync.flow"), lazy.module("bot.sync.outcome")


def _list(ctx: CommandContext) -> Reply:
    syncs = ctx.config.syncs
    if not syncs:
        return Reply("No syncs defined (config `syncs:`).")
    return Reply("\n".join(f"*{s.name}* ({s.type}): {s.source.repo} -> "
                           + ", ".join(t.repo for t in s.all_targets()) for s in syncs))


def _plan(ctx: CommandContext) -> Reply:
    name = ctx.cmd.arg(0)
    if not name:
        raise UsageError("usage: /sync plan NAME")
    sd = ctx.config.sync(name)
    if sd is None:
        raise UsageError(f"no sync named {name!r}; `/sync list` shows them")
    pid = flow.request_sync(ctx.svc, sd, ctx.cmd.user, source_ref=ctx.cmd.opts.get("ref"),
                            channel=ctx.cmd.channel or None)
    return Reply(f"Dry-run {pid} posted.")


def _row(ctx: CommandContext) -> Any:
    pid = ctx.cmd.arg(0)
    if not pid:
        raise UsageError("give the plan ID (DR-...)")
    row = flow.store(ctx.svc).get(pid)
    if row is None:
        raise Refused(f"no sync plan {pid}")
    return row


def _status(ctx: CommandContext) -> Reply:
    row = _row(ctx)
    svc = ctx.svc
    lines = [f"{row.id} ({row.sync}): {row.status}" + (f" - {row.note}" if row.note else "")]
    if row.status == "planned" and svc.approvals.for_subject("sync", row.id) is not None:
        for label, v in flow.gate_verdicts(svc, row):  # the verdicts execute refuses on
            clear = f" ({v.who_can_clear})" if not v.ok and v.who_can_clear else ""
            lines.append(f"{label}: {v.text}{clear}")
    lines += _outcome_lines(row)
    return Reply("\n".join(lines))


def _outcome_lines(row: Any) -> list[str]:
    """Each target's outcome of the last execution (and what `/sync retry` would run)."""
    lines = []
    for o in row.outcomes:
        where = f"{o['repo']} {o.get('branch') or ''}".strip()
        if o["status"] == "moved":
            lines.append(f"target {where}: now at {(o['sha_after'] or '')[:12]}")
        elif o["status"] == "unchanged":
            lines.append(f"target {where}: unchanged (nothing to change)")
        else:
            said = " / ".join((o.get("error") or "failed").strip().splitlines())
            lines.append(f"target {where}: failed - {said[:500]}"
                         + (" ... (git's full stderr is in the thread)" if len(said) > 500
                            else ""))
    if row.status in outcome.RETRYABLE and any(o["status"] == "failed" for o in row.outcomes):
        lines.append(f"`/sync retry {row.id}` runs the failed targets again")
    return lines


def _apply(ctx: CommandContext) -> Reply:
    row = _row(ctx)
    result = flow.execute(ctx.svc, row.id, ctx.cmd.user)
    return Reply(f"{row.id}: {result}")


def _retry(ctx: CommandContext) -> Reply:
    row = _row(ctx)
    result = flow.execute(ctx.svc, row.id, ctx.cmd.user, retry=True)
    return Reply(f"{row.id}: {result}")


WAITING_PAGE = 50


def _waiting(ctx: CommandContext) -> Reply:
    arg = ctx.cmd.arg(0) or "1"
    if not arg.isdigit() or int(arg) < 1:
        raise UsageError(f"page: {arg!r} is not a page number (1, 2, ...)")
    waiting = [r for r in ctx.svc.approvals.store.open_requests() if r.kind == "sync"]
    if not waiting:
        return Reply("No sync plan is waiting for approval.")
    pages = -(-len(waiting) // WAITING_PAGE)
    page = min(int(arg), pages)
    rows = waiting[(page - 1) * WAITING_PAGE:page * WAITING_PAGE]
    lines = [f"{len(waiting):,} sync plans waiting for approval (oldest first), page {page} "
             f"of {pages}:"]
    lines += [f"• {r.subject} requested by <@{r.requester}> at {r.created}, expires "
              f"{r.expires}" for r in rows]
    if page < pages:
        lines.append(f"`/sync waiting {page + 1}` for the next page")
    return Reply("\n".join(lines))


def _cancel(ctx: CommandContext) -> Reply:
    row = _row(ctx)
    svc = ctx.svc
    req = svc.approvals.for_subject("sync", row.id)
    voters = {v.user for v in svc.approvals.state(req).approved_by} if req else set()
    approvers = tuple(req.policy.get("approvers") or ()) if req else ()
    allowed = ctx.cmd.user == row.requester or ctx.cmd.user in voters or (
        approvers and svc.approvals.groups.allowed(ctx.cmd.user, approvers))
    if not allowed:
        raise Refused("only the requester or an approver can cancel a sync plan")
    if not flow.cancel(svc, row.id, ctx.cmd.user, f"by {ctx.cmd.user}",
                       {"digest": row.digest}):
        raise Refused(f"{row.id} is {row.status}")
    return Reply(f"{row.id} cancelled.")


def _log(ctx: CommandContext) -> Reply:
    recs = flow.store(ctx.svc).logs(ctx.cmd.arg(0))
    if not recs:
        return Reply("No sync runs yet.")
    return Reply("\n".join(f"{r['id']} {r['sync_name']} {r['evidence_id']} {r['result']} "
                           f"{r['started']} by {r['executor']}" for r in recs))


SUBCOMMANDS: dict[str, SubcommandSpec] = {
    "list": SubcommandSpec(_list, "", "the defined syncs", permission=None),
    "plan": SubcommandSpec(_plan, "NAME [ref=REF]", "dry-run a sync and ask for approval",
                           ack_text="Planning sync..."),
    "status": SubcommandSpec(_status, "ID", "what blocks a plan, gate by gate", permission=None),
    "apply": SubcommandSpec(_apply, "ID", "execute an approved plan"),
    "retry": SubcommandSpec(_retry, "ID", "retry only the failed targets of a partially "
                            "applied or failed sync (same approved plan, freshness re-checked)"),
    "cancel": SubcommandSpec(_cancel, "ID", "cancel a plan (requester or approver)",
                             permission=None),
    "waiting": SubcommandSpec(_waiting, "[PAGE]", "every plan waiting for approval, "
                              f"{WAITING_PAGE} a page", permission=None),
    "log": SubcommandSpec(_log, "[NAME|ID]", "recent sync runs", permission=None),
}


def setup(svc: Services) -> None:
    """The scheduler jobs (the approval kind is in :data:`bot.actions.kinds.APPROVAL_KINDS`)."""
    svc.scheduler.register("sync.expire", lazy.later("bot.sync.flow", "expire_job"))
    svc.scheduler.register("sync.recover", lazy.later("bot.sync.flow", "recover_job"))
    if svc.syncs.with_status("running"):  # plans a stopped relbot left running
        flow.recover(svc)


def register(app: Any) -> None:
    """No Block Kit actions."""
