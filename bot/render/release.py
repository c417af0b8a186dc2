"""Block Kit for the release message (one message, updated in place)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from bot.release import checks as ck
from bot.render.common import actions, button, context, header, section, user

_ICON = {"pass": ":white_check_mark:", "fail": ":x:", "pending": ":hourglass:",
         "waiting": ":hourglass_flowing_sand:",
         "waived": ":fast_forward:", "n/a": ":heavy_minus_sign:"}
_REASON = 140


def summary(row: Any) -> str:
    """The release message's fallback text (notifications): product, version, step."""
    return f"Release {row.product} {row.version} — {row.step} ({row.status})"


def reason(evidence: str) -> str:
    """The first line of a check's evidence, short enough for one message line."""
    first = (evidence or "").strip().splitlines()[0] if (evidence or "").strip() else ""
    return first if len(first) <= _REASON else first[:_REASON - 1] + "…"


def check_line(c: Any) -> str:
    """``:x: RL-04 Version bumped: fail — relbot · pyproject.toml does not contain 1.4.0 ·
    on abc1234``"""
    who = f" — {user(c.actor) if c.actor != 'relbot' else 'relbot'}" if c.actor else ""
    why = f" · {reason(c.evidence)}" if reason(c.evidence) else ""
    on = f" · on `{c.commit[:7]}`" if getattr(c, "commit", "") else ""
    return f"{_ICON.get(c.result, '')} {c.check_id} {ck.NAMES[c.check_id]}: {c.result}{who}" \
           f"{why}{on}"


def _head(row: Any, cadence: str) -> str:
    steps = " → ".join(f"*{s}*" if s == row.step else s for s in ck.STEPS)
    text = (f"{row.bump} release ({cadence}) · started by {user(row.starter)} · "
            f"candidate `{row.commit[:7]}`")
    if getattr(row, "tag_name", ""):
        text += f" · tagged `{row.tag_name}`"
    if getattr(row, "start_reason", ""):
        text += f"\nreason: {row.start_reason}"
    return f"{text}\n{steps} · status: *{row.status}*"


def gate_lines(step: str, nxt: str, verdicts: Iterable[Any]) -> str:
    """``Leaving RC for Validation:`` and one line per requirement of the advance's gate, as
    ``/release status`` shows them (the verdicts ``/release advance`` refuses on)."""
    return f"Leaving {step} for {nxt}:" + "".join(
        f"\n• {v.name}: {'yes' if v.ok else 'no'} — {v.text}" for v in verdicts)


def release_blocks(row: Any, blockers: list[tuple[str, str, str]], cadence: str,
                   lock: str | None = None,
                   manual: Collection[str] | None = None,
                   warnings: Collection[str] = ()) -> list[dict[str, Any]]:
    """The release message: step, every check with who decided it, its reason and the commit
    it ran on, what blocks (checks, a rollback lock), Confirm buttons for the checks a person
    decides (``manual``; default: all but the builtin ones), ``warnings`` (e.g. feat: commits
    since the freeze)."""
    manual = set(manual) if manual is not None else set(ck.NAMES) - set(ck.BUILTIN)
    blocks = [header(f"Release {row.product} {row.version}"), section(_head(row, cadence)),
              section("\n".join(check_line(c) for c in row.checks.values()))]
    if row.status == "active":
        if blockers:
            blocks.append(context("Blocking " + row.step + ": " + "; ".join(
                f"{c} ({w})" for c, _, w in blockers)))
        elif not (lock and row.step in ck.STEPS[-3:-1]):  # the lock holds the next step back
            blocks.append(context(f"Ready to leave {row.step}: `/release advance {row.version}`"))
        if lock:
            blocks.append(context(f":lock: {lock}"))
        blocks += [context(f":warning: {w}") for w in warnings]
        btns = [button(f"Confirm {c.check_id}", f"release:check:{c.check_id}",
                       f"{row.id}:{c.check_id}")
                for c in row.checks.values()
                if c.result in ("pending", "fail") and c.check_id in manual]
        if btns:
            blocks.append(actions(f"release:{row.id}", btns[:5]))
    elif row.reason:
        blocks.append(context(f"Aborted: {row.reason}"))
    return blocks
