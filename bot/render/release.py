"""Block Kit for the release message (one message, updated in place)."""

from __future__ import annotations

from typing import Any

from bot.release import checks as ck
from bot.render.common import actions, button, context, header, section, user

_ICON = {"pass": ":white_check_mark:", "fail": ":x:", "pending": ":hourglass:",
         "waived": ":fast_forward:", "n/a": ":heavy_minus_sign:"}


def summary(row: Any) -> str:
    return f"Release {row.product} {row.version} — {row.step} ({row.status})"


def release_blocks(row: Any, blockers: list[tuple[str, str, str]], cadence: str,
                   lock: str | None = None) -> list[dict[str, Any]]:
    """The release message: step, every check with who decided it, what blocks (checks, a
    rollback lock), buttons."""
    steps = " → ".join(f"*{s}*" if s == row.step else s for s in ck.STEPS)
    blocks = [header(f"Release {row.product} {row.version}"),
              section(f"{row.bump} release ({cadence}) · started by {user(row.starter)} · "
                      f"commit `{row.commit[:10]}`\n{steps} · status: *{row.status}*")]
    lines = []
    for c in row.checks.values():
        who = f" — {user(c.actor) if c.actor != 'relbot' else 'relbot'}" if c.actor else ""
        lines.append(f"{_ICON.get(c.result, '')} {c.check_id} {ck.NAMES[c.check_id]}: "
                     f"{c.result}{who}")
    blocks.append(section("\n".join(lines)))
    if row.status == "active":
        if blockers:
            blocks.append(context("Blocking " + row.step + ": " + "; ".join(
                f"{c} ({w})" for c, _, w in blockers)))
        elif not (lock and row.step in ck.STEPS[-3:-1]):  # the lock holds the next step back
            blocks.append(context(f"Ready to leave {row.step}: `/release advance {row.version}`"))
        if lock:
            blocks.append(context(f":lock: {lock}"))
        btns = [button(f"Confirm {c.check_id}", f"release:check:{c.check_id}",
                       f"{row.id}:{c.check_id}")
                for c in row.checks.values()
                if c.result in ("pending", "fail") and c.check_id not in ck.BUILTIN]
        if btns:
            blocks.append(actions(f"release:{row.id}", btns[:5]))
    elif row.reason:
        blocks.append(context(f"Aborted: {row.reason}"))
    return blocks
