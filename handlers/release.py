"""/release subcommands and the Confirm buttons (thin: parse -> core -> render)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import yaml

from bot import lazy
from bot.errors import NotFound, Refused, RelbotError, UsageError
from bot.release import version as vs
from bot.render.common import section
from handlers import modals
from handlers.after import acked
from handlers.base import CommandContext, Reply, SubcommandSpec
from handlers.binding import bound_record, clicker

if TYPE_CHECKING:
    from bot.release import begin, freeze, publish, steps, tagging
    from bot.release import checks as ck
    from bot.release import evidence as ev
    from bot.release import gate as gt
    from bot.release import service as rs
    from bot.release.message import blocks_for, refresh
    from bot.render import release as render
    from bot.services import Services
else:  # imported when a /release command or button first runs (bot/lazy.py)
    begin, freeze = lazy.module("bot.release.begin"), lazy.module("bot.release.freeze")
    publish, steps = lazy.module("bot.release.publish"), lazy.module("bot.release.steps")
    tagging, ck = lazy.module("bot.release.tagging"), lazy.module("bot.release.checks")
    ev, gt = lazy.module("bot.release.evidence"), lazy.module("bot.release.gate")
    rs, render = lazy.module("bot.release.service"), lazy.module("bot.render.release")
    blocks_for = lazy.later("bot.release.message", "blocks_for")
    refresh = lazy.later("bot.release.message", "refresh")

_VERSION = re.compile(r"^v?\d+\.\d+\.\d+")
__all__ = ["SUBCOMMANDS", "blocks_for", "refresh", "register", "setup"]


def _target(ctx: CommandContext) -> Any:
    v = ctx.cmd.arg(0)
    return rs.find(ctx.svc, v if v and _VERSION.match(v) else None, ctx.cmd.opts.get("product"))


def start(ctx: CommandContext) -> str:
    a = list(ctx.cmd.args)
    name = None
    if a and not (a[0] in vs.BUMPS or a[0] in vs.STAGES or a[0] == "final"
                  or _VERSION.match(a[0])):
        name = a.pop(0)
    how = a.pop(0) if a else None
    row, why = begin.start(ctx.svc, ctx.cmd.user, name, how, ctx.cmd.opts.get("reason"))
    row = rs.run_auto(ctx.svc, row)
    stage = vs.stage(vs.parse(row.version))
    level = f"; {stage}: {vs.STABILITY[stage]}" if stage != "final" else ""
    refresh(ctx.svc, row, f"Started {row.product} {row.version}: {why}{level}")
    return f"Started {row.product} {row.version} ({row.bump}): {why}{level}"


def _status_target(ctx: CommandContext) -> Any:
    """The named version; without one the active release, or else the last one."""
    try:
        return _target(ctx)
    except NotFound:
        v = ctx.cmd.arg(0)
        if v and _VERSION.match(v):
            raise
        row = rs.store(ctx.svc).last(ctx.cmd.opts.get("product"))
        if row is None:
            raise NotFound("release", "(any)", "none yet; start one with /release start") \
                from None
        return row


def status(ctx: CommandContext) -> Reply:
    row = _status_target(ctx)
    block = rs.blockers(ctx.svc, row) if row.status == "active" else []
    text = render.summary(row)
    if block:
        text += "\nBlocked: " + "; ".join(f"{c} is {r} — {w}" for c, r, w in block)
    lock = rs.lock_note(ctx.svc, row)
    if lock:
        text += f"\n:lock: {lock}"
    feats = freeze.note(ctx.svc, row)
    if feats:
        text += f"\n:warning: {feats}"
    blocks = blocks_for(ctx.svc, row)
    if row.status == "active":   # the verdicts `/release advance` refuses on
        lines = render.gate_lines(row.step, gt.next_step(row), gt.gate(ctx.svc, row).verdicts())
        text += f"\n{lines}"
        blocks.append(section(lines))
    return Reply(text, blocks)


def advance(ctx: CommandContext) -> str:
    row = _target(ctx)
    try:
        new, moved = steps.advance(ctx.svc, row, ctx.cmd.user)
    except Exception:
        refresh(ctx.svc, row)        # the re-run checks show even when the step stays
        raise
    note = f" ({moved})" if moved else ""
    published = publish.publish(ctx.svc, new, ctx.cmd.user) \
        if new.step == "Post-Release" else None  # left Execution: the code host's release
    if published:
        refresh(ctx.svc, new, published)
        return f"{new.product} {new.version} is now at {new.step}{note}\n{published}"
    return f"{new.product} {new.version} is now at {new.step}{note}"


def publish_cmd(ctx: CommandContext) -> str:
    row = _target(ctx)
    if row.step != "Post-Release" and row.status != "released":
        raise Refused(f"{row.product} {row.version} is at {row.step}; its release is "
                      "published when it leaves Execution")
    if not publish.enabled(rs.product(ctx.svc, row.product)):
        raise Refused(f"{row.product} has no publish_release: true under github: or gitlab:")
    note = publish.publish(ctx.svc, row, ctx.cmd.user) or ""
    refresh(ctx.svc, row, note)
    return note


def recheck_job(svc: Services, release_id: int) -> None:
    """Scheduler job: re-run a release's waiting checks (checks still running on the code
    host, a rate limit); say in the thread what got decided."""
    row = rs.store(svc).get(release_id)
    if row is None or row.status != "active":
        return
    waiting = [cid for cid, c in row.checks.items() if c.result == ck.WAITING]
    if not waiting:
        return
    new, moved = rs.recheck(svc, row)
    decided = [f"{cid} {ck.NAMES[cid]}: {new.checks[cid].result} — {new.checks[cid].evidence}"
               for cid in waiting if new.checks[cid].result != ck.WAITING]
    if moved:
        decided.insert(0, f"Checks re-run: {moved}")
    refresh(svc, new, "\n".join(decided) or None)


def abort(ctx: CommandContext) -> str:
    row = _target(ctx)
    reason = ctx.cmd.rest(1) if ctx.cmd.arg(0) and _VERSION.match(ctx.cmd.arg(0)) else ""
    row = steps.abort(ctx.svc, row, ctx.cmd.user, reason)
    return f"Aborted {row.product} {row.version}: {reason}"


def waive(ctx: CommandContext) -> str:
    cid = (ctx.cmd.arg(0) or "").upper()
    reason = ctx.cmd.rest(1)
    if not cid or not reason:
        raise UsageError("usage: /release waive RL-0N reason...")
    row = rs.find(ctx.svc, ctx.cmd.opts.get("version"), ctx.cmd.opts.get("product"))
    rs.confirm(ctx.svc, row, cid, ctx.cmd.user, waive_reason=reason)
    refresh(ctx.svc, row, f"<@{ctx.cmd.user}> waived {cid}: {reason}")
    return f"Waived {cid} for {row.product} {row.version}"


def check(ctx: CommandContext) -> str:
    row, moved = rs.recheck(ctx.svc, _target(ctx), "relbot")
    refresh(ctx.svc, row, f"Checks re-run: {moved}" if moved else None)
    lines = [" ".join(x for x in (f"{c.check_id}: {c.result}", c.evidence,
                                  f"(on {c.commit[:7]})" if c.commit else "") if x)
             for c in row.checks.values()]
    head = f"{row.product} {row.version} at {row.commit[:7]}" + (f": {moved}" if moved else "")
    return "\n".join([head, *lines])


def rc(ctx: CommandContext) -> str:
    row = _target(ctx)
    text = tagging.cut_rc(ctx.svc, row, ctx.cmd.user)
    refresh(ctx.svc, row, text)
    return text


def prepare(ctx: CommandContext) -> str:
    from bot.release.prepare import prepare as prepare_commit

    row = _target(ctx)
    text = prepare_commit(ctx.svc, row, ctx.cmd.user)
    if text is None:
        return (f"{row.product} {row.version}: the candidate already names {row.version} in "
                "its changelog and version file; nothing to commit")
    row = rs.run_auto(ctx.svc, rs.store(ctx.svc).get(row.id))
    refresh(ctx.svc, row, text)
    return text


def notes(ctx: CommandContext) -> str:
    row = _target(ctx)
    md, mdp, ymp = rs.draft_notes(ctx.svc, row, ctx.cmd.user)
    refresh(ctx.svc, row, md)
    return f"Release notes written to {mdp} and {ymp}"


def evidence(ctx: CommandContext) -> str:
    row = _target(ctx)
    ctx.audit("release.evidence", rs.subject(row), {})
    return "```\n" + yaml.safe_dump(ev.evidence(ctx.svc, row), sort_keys=False) + "```"


SUBCOMMANDS: dict[str, SubcommandSpec] = {
    "start": SubcommandSpec(start, "[PRODUCT] [major|minor|patch|alpha|beta|rc|final|X.Y.Z] "
                            "[reason=\"...\"]",
                            "start a release (nothing: a form with the bump proposed from "
                            "commits)", modal=modals.open_release),
    "status": SubcommandSpec(status, "[VERSION]", "step, checks and what blocks the next step",
                             permission=None),
    "advance": SubcommandSpec(advance, "[VERSION]", "move to the next step when checks pass"),
    "abort": SubcommandSpec(abort, "VERSION reason", "abort a release"),
    "waive": SubcommandSpec(waive, "RL-0N reason", "waive a check with a reason"),
    "check": SubcommandSpec(check, "[VERSION]", "re-run the automatic checks"),
    "rc": SubcommandSpec(rc, "[VERSION]", "at the RC step: tag the candidate vX.Y.Z-rc.N"),
    "prepare": SubcommandSpec(prepare, "[VERSION]", "at the RC step: commit the version bump "
                              "and changelog section (prepare: true does it on entering RC)"),
    "notes": SubcommandSpec(notes, "[VERSION]", "draft release notes (Markdown + YAML)"),
    "publish": SubcommandSpec(publish_cmd, "[VERSION]",
                              "publish (again) the GitHub/GitLab release of a tagged version"),
    "evidence": SubcommandSpec(evidence, "[VERSION]", "the YAML evidence record",
                               permission=None),
}


def register(app: Any) -> None:
    """Confirm buttons on the release message."""

    @app.action(re.compile(r"^release:check:"))
    @acked
    def on_check(body: dict, context: Any) -> None:
        svc = context["svc"]
        uid = clicker(body)
        act = body["actions"][0]
        rid, _, cid = str(act.get("value", "")).partition(":")
        row = bound_record(svc, body, "release", rid, rs.store(svc).by_message,
                           lambda r: str(r.id))
        if row is None or act.get("action_id") != f"release:check:{cid}":
            return
        try:
            rs.confirm(svc, row, cid, uid)
        except (Refused, RelbotError) as exc:
            svc.client.chat_postEphemeral(channel=body["container"]["channel_id"], user=uid,
                                          text=f":no_entry: {exc}")
            return
        refresh(svc, row, f"<@{uid}> confirmed {cid}")


def setup(svc: Services) -> None:
    """The job re-running waiting checks (the release tables come with ``svc.releases``)."""
    if svc.scheduler is not None:
        svc.scheduler.register("release.recheck", recheck_job)
