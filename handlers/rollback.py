"""/rollback subcommands and the checklist checkboxes (thin: parse -> core -> render)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import yaml

from bot import lazy
from bot.errors import Refused, RelbotError, UsageError
from bot.render.rollback import summary
from bot.rollback import checklists as cl
from bot.rollback.decision import USAGE, parse_request, split_request
from bot.rollback.lookup import find, store
from handlers import modals
from handlers.after import acked
from handlers.base import CommandContext, Reply, SubcommandSpec
from handlers.binding import bound_record, clicker
from storage.rollback import RollbackRow

if TYPE_CHECKING:
    from bot.rollback import configsync, declare, human, message, run
    from bot.rollback import evidence as rb_evidence
    from bot.rollback import gates as rb_gates
    from bot.services import Services
else:  # imported when a /rollback command or checkbox first runs (bot/lazy.py)
    declare, human = lazy.module("bot.rollback.declare"), lazy.module("bot.rollback.human")
    message, run = lazy.module("bot.rollback.message"), lazy.module("bot.rollback.run")
    configsync = lazy.module("bot.rollback.configsync")
    rb_evidence, rb_gates = lazy.module("bot.rollback.evidence"), lazy.module("bot.rollback.gates")


def _start(ctx: CommandContext) -> str:
    row = declare.start(ctx.svc, ctx.cmd.user, list(ctx.cmd.words))
    d = row.record
    return (f"{row.id}: {d.why}. Target {d.to_version} ({d.target_why}). "
            f"Now {row.status}; progress is on the rollback message in <#{row.channel}>.")


def _status(ctx: CommandContext) -> Reply:
    row = find(ctx.svc, ctx.cmd.arg(0)) if ctx.cmd.arg(0) else _latest(ctx)
    rec = rb_evidence.evidence(ctx.svc, row)
    ctx.audit("rollback.evidence", row.id, {})
    gates = "".join(f"\n{label}: {v.text}" for label, v in rb_gates.verdicts(ctx.svc, row))
    return Reply(f"{summary(row)}{gates}\n```\n{yaml.safe_dump(rec, sort_keys=False)}```")


def _latest(ctx: CommandContext) -> RollbackRow:
    rows = store(ctx.svc).recent(1)
    if not rows:
        raise Refused("no rollbacks yet")
    return rows[0]


def _list(ctx: CommandContext) -> Reply:
    rows = store(ctx.svc).recent(10)
    if not rows:
        return Reply("No rollbacks yet.")
    return Reply("\n".join(f"{summary(r)} — declared {r.declared} by <@{r.requester}>"
                           for r in rows))


def _id_and_reason(ctx: CommandContext, need_reason: bool) -> tuple[RollbackRow, str]:
    row = find(ctx.svc, ctx.cmd.arg(0))
    reason = ctx.cmd.rest(1)
    if need_reason and not reason:
        raise UsageError(f"say why: /rollback {ctx.cmd.sub} {row.id} REASON")
    return row, reason


def _cancel(ctx: CommandContext) -> str:
    row, reason = _id_and_reason(ctx, False)
    human.cancel(ctx.svc, row, ctx.cmd.user, reason)
    return f"{row.id} cancelled."


def _retry(ctx: CommandContext) -> str:
    row, _ = _id_and_reason(ctx, False)
    row = human.retry(ctx.svc, row, ctx.cmd.user)
    return f"{row.id} retried: now {row.status}."


def _abort(ctx: CommandContext) -> str:
    row, reason = _id_and_reason(ctx, True)
    human.abort(ctx.svc, row, ctx.cmd.user, reason)
    return f"{row.id} aborted."


def _resolve(ctx: CommandContext) -> str:
    row, reason = _id_and_reason(ctx, True)
    human.resolve(ctx.svc, row, ctx.cmd.user, reason)
    return f"{row.product} unlocked ({row.id})."


def _matrix(ctx: CommandContext) -> str:
    from bot.render.rollback import matrix_text
    from bot.rollback.config import DEFAULT_MATRIX, RollbackConfig

    rcfg = ctx.svc.config.current.rollback or RollbackConfig()
    over = {(s, i) for s, row in rcfg.matrix.items() for i, c in row.items()
            if c != DEFAULT_MATRIX[s][i]}
    return matrix_text(rcfg.cell, over)


SUBCOMMANDS: dict[str, SubcommandSpec] = {
    "start": SubcommandSpec(_start, USAGE.removeprefix("/rollback "),
                            "declare a rollback; the matrix decides RB-IMM or RB-PLN",
                            ack_text="Declaring the rollback...",
                            check=lambda cmd: parse_request(*split_request(list(cmd.words))),
                            free_text=True, modal=modals.open_rollback),
    "status": SubcommandSpec(_status, "[ID]", "the rollback evidence record (YAML)",
                             permission=None),
    "list": SubcommandSpec(_list, "", "recent rollbacks", permission=None),
    "matrix": SubcommandSpec(_matrix, "", "the effective severity x impact decision matrix",
                             permission=None),
    "cancel": SubcommandSpec(_cancel, "ID [reason]", "cancel a planned rollback before it runs"),
    "retry": SubcommandSpec(_retry, "ID", "re-run the step a stopped rollback failed at"),
    "abort": SubcommandSpec(_abort, "ID reason", "give up a stopped rollback (lock stays)"),
    "resolve": SubcommandSpec(_resolve, "ID reason",
                              "lift the product lock once the cause is addressed (release "
                              "managers: permissions.rollback or permissions.release)",
                              permission=None),
}


def register(app: Any) -> None:
    """Checklist checkboxes on the rollback message."""

    @app.action(re.compile(r"^rollback:checklist:"))
    @acked
    def on_tick(body: dict, context: Any) -> None:
        svc = context["svc"]
        uid = clicker(body)
        act = body["actions"][0]
        _, num, name = (str(act.get("block_id", "")).split(":") + ["", "", ""])[:3]
        row = bound_record(svc, body, "rollback", num, store(svc).by_message,
                           lambda r: str(r.num))
        if row is None or name not in cl.CHECKLISTS or act.get("action_id") != (
                f"rollback:checklist:{name}"):
            return
        selected = {o["value"] for o in act.get("selected_options") or []}
        try:
            changes = human.tick(svc, row, name, selected, uid, _shown(body, act["action_id"]))
        except (Refused, RelbotError) as exc:
            svc.client.chat_postEphemeral(channel=body["container"]["channel_id"], user=uid,
                                          text=f":no_entry: {exc}")
            message.refresh(svc, row, force=True)  # put the boxes back as they were
            return
        if changes:
            message.refresh(svc, row)
            message.say(svc, row, f"<@{uid}> " + "; ".join(changes))


def _shown(body: dict, action_id: str) -> set[str] | None:
    """The boxes the clicking user saw ticked (the message as their client had it)."""
    for block in (body.get("message") or {}).get("blocks") or []:
        for el in block.get("elements") or []:
            if el.get("action_id") == action_id:
                return {o.get("value") for o in el.get("initial_options") or []}
    return None


def setup(svc: Services) -> None:
    """Scheduler jobs, each imported when it first runs (the approval kind is in
    :data:`bot.actions.kinds.APPROVAL_KINDS`); dry-runs adopted, rollbacks left executing
    checked (their modules imported only when rollbacks are still open)."""
    flow, run_, paging = "bot.rollback.flow", "bot.rollback.run", "bot.rollback.paging"
    for name, module, fn in (("rollback.execute", run_, "execute_job"),
                             ("rollback.escalate", flow, "escalate_job"),
                             ("rollback.expire", flow, "expire_job"),
                             ("rollback.window", flow, "window_job"),
                             ("rollback.recover", run_, "recover_job"),
                             ("rollback.postmortem", "bot.rollback.outcome", "postmortem_job"),
                             ("rollback.page", paging, "retry_job")):  # = paging.JOB
        svc.scheduler.register(name, lazy.later(module, fn))
    active = store(svc).active()
    if active:
        configsync.adopt_dry_runs(svc)
        if any(r.status == "executing" for r in active):
            run.recover(svc)
