"""Text rendering of sync dry-runs (shared by Slack and the CLI)."""

from __future__ import annotations

from bot.sync.outcome import Outcome
from bot.sync.plan import Change, Plan

MAX_LINES = 40


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "(new branch)"


def change_line(c: Change) -> str:
    """``M docs/a.md (+3 -1)`` style line (with key changes for config syncs)."""
    name = f"{c.old_path} -> {c.path}" if c.status == "R" else c.path
    if c.binary:
        size = "binary"
    elif c.large:
        size = "large file, not diffed"
    elif c.status == "R":
        size = "unchanged content"
    else:
        size = f"+{c.added} -{c.removed}"
    line = f"{c.status} {name} ({size})"
    return line + "".join(f"\n    {k}" for k in c.keys)


def summary_lines(plan: Plan) -> tuple[list[str], list[str]]:
    """(header lines, one line per change over all targets)."""
    n = plan.counts()
    head = [f"Dry-run {plan.id} for sync *{plan.sync}* ({plan.type})",
            f"source: {plan.source_repo} @ {plan.source_ref or '-'} {_short(plan.source_sha)}"]
    for t in plan.targets:
        head.append(f"target: {t.repo} {t.branch or ''} {_short(t.sha)}"
                    + (f" path {t.path}" if t.path else ""))
    head.append(f"{n['A']} added, {n['M']} modified, {n['D']} deleted, {n['R']} renamed")
    head.append(f"evidence {plan.id} digest sha256:{plan.digest}")
    body: list[str] = []
    multi = len(plan.targets) > 1
    for t in plan.targets:
        if multi:
            body.append(f"[{t.repo}]")
        body += [change_line(c) for c in t.changes]
    if not body:
        body = ["no changes: target already matches the source"]
    return head, body


def summary_text(plan: Plan, limit: int | None = None) -> tuple[str, list[str]]:
    """Main text plus follow-up chunks: every change is listed, none dropped silently (a
    list too long for a few thread messages goes up as one file, :func:`change_list_file`)."""
    head, body = summary_lines(plan)
    if limit is None or len(body) <= limit:
        return "\n".join(head + body), []
    rest = body[limit:]
    if as_file(plan, limit):  # one uploaded file instead of hundreds of thread messages
        name = change_list_file(plan)[0]
        return "\n".join(head + body[:limit] + [
            f"... {len(rest)} more: every change is in the file {name} in the thread"]), []
    main = "\n".join(head + body[:limit] + [f"... {len(rest)} more in the thread"])
    chunks = ["\n".join(rest[i:i + limit]) for i in range(0, len(rest), limit)]
    return main, chunks


THREAD_CHUNKS = 5  # more change lines than this many thread messages go up as one file


def change_list_file(plan: Plan) -> tuple[str, str]:
    """(file name, text) of the complete change list: header lines and every change."""
    head, body = summary_lines(plan)
    return f"{plan.id}-changes.txt", "\n".join(head + body) + "\n"


def as_file(plan: Plan, limit: int) -> bool:
    """Whether the change list is too long for thread messages (it is uploaded instead)."""
    return sum(len(t.changes) for t in plan.targets) > limit * (THREAD_CHUNKS + 1)


def outcome_text(plan: Plan, result: str, error: str, outcomes: list[Outcome],
                 retry: bool = False) -> str:
    """The thread message after an execution: one line per target when any failed (a failed
    target shows git's full stderr)."""
    if result == "success":
        return f"Sync {plan.id} done: target now at " + ", ".join(
            (o.sha_after or "")[:12] for o in outcomes)
    if not outcomes:  # refused before any push: this attempt changed nothing
        if retry:
            return f"Retry of sync {plan.id} {result}, no target changed by it: {error}"
        return f"Sync {plan.id} {result}, target unchanged: {error}"
    if result == "partially-applied":
        head = f"Sync {plan.id} partially applied: {error}"
    else:
        noun = "targets" if len(outcomes) > 1 else "target"
        head = (f"Sync {plan.id} failed, {noun} unchanged: "
                f"{error}\n`/sync retry {plan.id}` retries it against this approved plan")
    lines = [head]
    for o in outcomes:
        where = f"{o.repo} {o.branch or ''}".strip()
        if o.status == "failed":
            lines.append(f"• {where}: failed, " + (
                f"now at {(o.sha_after or '')[:12]}" if o.moved
                else f"unchanged at {(o.sha_before or '(new branch)')[:12]}")
                + f"\n```{o.error}```")
        elif o.status == "moved":
            lines.append(f"• {where}: now at {(o.sha_after or '')[:12]} "
                         f"(was {(o.sha_before or '(new branch)')[:12]})")
        else:
            lines.append(f"• {where}: unchanged (nothing to change)")
    return "\n".join(lines)
