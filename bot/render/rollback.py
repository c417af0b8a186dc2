"""Block Kit for the one rollback message (steps, decision, lock, checklists)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.render.common import checkboxes, context, fields, header, section
from bot.rollback import checklists as cl
from storage.rollback import RollbackRow

ICON = {"pending": ":white_circle:", "running": ":hourglass_flowing_sand:",
        "done": ":white_check_mark:", "failed": ":x:", "skipped": ":heavy_minus_sign:"}
ENDED = ("done", "cancelled", "aborted", "superseded")


def summary(row: RollbackRow) -> str:
    """One line: ``RB-0001 api 1.4.0 -> 1.3.0 (RB-IMM, immediate): executing``."""
    d = row.record
    comps = f" [{', '.join(d.components)}]" if d.components else ""
    return (f"{row.id} {row.product} {d.from_version} -> {d.to_version}{comps} "
            f"({row.procedure}, {row.kind}): {row.status}")


def _clock(row: RollbackRow, local: Callable[[str], str]) -> str:
    d = row.record
    if d.decided:
        s = int(d.decision_seconds or 0)
        return f"decided {s // 60}m{s % 60:02d}s after declaration"
    if d.escalated:
        return f"no decision yet; escalated to on-call at {local(d.escalated)}"
    return "no decision yet"


def rollback_blocks(row: RollbackRow, approval_line: str = "",
                    local: Callable[[str], str] = str) -> list[dict[str, Any]]:
    """The rollback message: header, facts, decision, steps, approvals, lock, checklists.
    ``local`` shows an ISO time in the config's timezone."""
    d = row.record
    blocks: list[dict[str, Any]] = [
        header(f"Rollback {row.id}: {row.product} {d.from_version} → {d.to_version}"),
        fields([("Procedure", f"{row.procedure} ({row.kind})"), ("Status", row.status),
                ("Severity x impact", d.cell_name), ("Requested by", f"<@{row.requester}>"),
                ("Declared", local(row.declared)), ("Decision", _clock(row, local))]),
        section(f"*Why:* {d.reason}\n*Decision:* {d.why}\n*Target:* {d.to_version} — "
                f"{d.target_why}"
                + (f"\n*Components:* {', '.join(d.components)}" if d.components else "")
                + (f"\n*Window:* {local(d.window)} ({d.window})" if d.window else "")
                + (f"\n*Config:* sync dry-run {d.sync_plan} from {d.config_ref}"
                   if d.sync_plan else "")),
        section("\n".join(
            f"{ICON.get(s.status, '')} {i}. {s.name}"
            + (f" — {s.status} {local(s.at)}" if s.at else "")
            + (f": {s.note}" if s.note else "")
            for i, s in enumerate(d.steps, 1))),
    ]
    if approval_line:
        blocks.append(section(approval_line))
    if d.error and row.status in ("failed", "cancelled", "aborted", "expired", "superseded"):
        blocks.append(section(f":warning: {d.error}"))
    blocks += _lock_blocks(row, local)
    for name, items in cl.CHECKLISTS.items():
        done = set(d.checklists.get(name, {}))
        blocks.append(section(f"*{cl.TITLES[name]} checklist* ({len(done)}/{len(items)})"))
        blocks.append(checkboxes(f"rollback-checklist:{row.num}:{name}",
                                 f"rollback:checklist:{name}", list(items), done))
    blocks.append(context(f"Evidence: `/rollback status {row.id}` · plan sha256 "
                          f"{d.digest[:12]}"))
    return blocks


def _lock_blocks(row: RollbackRow, local: Callable[[str], str]) -> list[dict[str, Any]]:
    lock = row.record.lock
    if lock is None:
        return []
    if lock.handed_to and not lock.lifted:
        return [context(f":lock: {row.product}'s lock was taken over by {lock.handed_to}; "
                        f"`/rollback resolve {lock.handed_to} REASON` lifts it")]
    if lock.lifted:
        return [context(f":unlock: {row.product} unlocked {local(lock.lifted)} by "
                        f"<@{lock.lifted_by}>: {lock.lift_reason}")]
    return [context(f":lock: {row.product} locked since {local(lock.since or '')}: releases "
                    f"and syncs refused until `/rollback resolve {row.id} REASON`")]


def _cell_text(cell: Any) -> str:
    n = cell.approvals
    text = f"{cell.type}, {n} approval{'s' if n != 1 else ''}"
    return text + (", on-call" if cell.notify_oncall else "")


def matrix_text(cells: Callable[[str, str], Any], overridden: set[tuple[str, str]]) -> str:
    """The effective severity x impact matrix as a fixed-width table (``*``: a cell set in
    ``rollback.matrix``; the rest is the documented default)."""
    from bot.rollback.config import IMPACTS, SEVERITIES

    width = max(len(_cell_text(cells(s, i))) + 1 for s in SEVERITIES for i in IMPACTS)
    lines = [("severity \\ impact".ljust(18)
              + "".join(i.ljust(width + 2) for i in IMPACTS)).rstrip()]
    for sev in SEVERITIES:
        lines.append(sev.ljust(18) + "".join(
            (_cell_text(cells(sev, i)) + ("*" if (sev, i) in overridden else "")).ljust(width + 2)
            for i in IMPACTS).rstrip())
    note = ("* set in rollback.matrix; other cells are the default" if overridden
            else "the default matrix (rollback.matrix overrides cells)")
    return ("Rollback decision matrix (type, approvals needed first, on-call paged):\n```\n"
            + "\n".join(lines) + "\n```\n" + note)
