"""App Home view: cycle, stabilization, next milestones, active releases, pending approvals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.cadence import calendar as calmod
from bot.cadence.config import CalendarConfig
from bot.render.cadence import label, status_line
from bot.render.common import divider, header, section


def home_view(cal: CalendarConfig | None, now: datetime, releases: list[dict],
              approvals: list[Any], rollbacks: list[str] = ()) -> dict[str, Any]:
    """The ``views.publish`` payload for the App Home tab."""
    blocks: list[dict[str, Any]] = [header("relbot")]
    if cal is not None:
        st = calmod.status(cal, now)
        blocks.append(section(f"*{status_line(cal, now)}*"))
        blocks.append(section("In stabilization week: only fixes are merged."
                              if st.stabilization else "Development week."))
        nxt = [o for o in calmod.upcoming(cal, now, 5, reminders=False)]
        blocks.append(section("*Next milestones*\n" + "\n".join(
            f"• {o.when.strftime('%a %Y-%m-%d %H:%M %Z')}: {label(o)} (cycle {o.cycle}, "
            f"{calmod.release_kind(cal, o.cycle)})" for o in nxt)))
    else:
        blocks.append(section("No release calendar configured."))
    blocks.append(divider())
    rel = "\n".join(f"• {r.get('product', '?')} {r.get('version', '?')}: step "
                    f"{r.get('step', '?')}" for r in releases) or "none"
    blocks.append(section(f"*Active releases*\n{rel}"))
    blocks.append(section(f"*Waiting for approval*\n{waiting_text(approvals)}"))
    if rollbacks:
        blocks.append(section("*Rollbacks and locked products*\n"
                              + "\n".join(f"• {r}" for r in rollbacks)))
    return {"type": "home", "blocks": blocks}


HOME_WAITING = 20  # a section holds 3,000 characters: more would be cut by Slack, silently


def waiting_text(approvals: list[Any], limit: int = HOME_WAITING) -> str:
    """Waiting approvals, rollbacks first; past ``limit`` it says how many are not shown and
    where to see them all."""
    ordered = sorted(approvals, key=lambda a: a.kind != "rollback")
    lines = [f"• {a.kind} {a.subject} (requested by <@{a.requester}>)"
             for a in ordered[:limit]]
    if len(ordered) > limit:
        lines.append(f"{limit} of {len(ordered):,} shown — `/sync waiting` lists every "
                     "waiting sync plan")
    return "\n".join(lines) or "none"
