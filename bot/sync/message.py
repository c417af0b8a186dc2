"""A plan's channel message, rendered from its state (the action's status, the approval).

The update is read and queued under :func:`bot.messages.rendering` (one write transaction:
a move's, when one is open), so of several refreshes the one queued last read the latest
state, and a move and the update it decides commit together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.approvals import ApprovalState
from bot.messages import rendering, update_message
from bot.render.approval import approval_buttons, text_blocks, who_decided
from bot.render.sync import summary_text
from bot.sync.plan import Plan
from bot.sync.state import KIND, store
from storage.sync import PlanRow

if TYPE_CHECKING:
    from bot.services import Services

LIMIT = 40
"""Change lines in the message itself (the rest is threaded or uploaded)."""


def _status_text(svc: Services, row: PlanRow, st: ApprovalState | None = None) -> str:
    req = st.request if st is not None else svc.approvals.for_subject(KIND, row.id)
    if row.status != "planned" or req is None:
        return f"status: {row.status}" + (f" ({row.note})" if row.note else "")
    st = st or svc.approvals.state(req)
    reacts = " or ".join(f":{r}:" for r in req.policy.get("reactions", ()))
    return (f"approved by: {who_decided(st.approved_by)}\n{st.needs_text()}; react with "
            f"{reacts} or press Approve")


def message_text(svc: Services, row: PlanRow, state: ApprovalState | None = None) -> str:
    """The channel message for a plan (first part; the rest is threaded); ``state``: its
    approval's, when the caller has it already (a vote)."""
    main = row.summary or summary_text(Plan.model_validate(row.plan), LIMIT)[0]
    return f"{main}\n{_status_text(svc, row, state)}"


def message_blocks(svc: Services, row: PlanRow, state: ApprovalState | None = None
                   ) -> list[dict] | None:
    """While the plan collects votes: its text and the Approve / Withdraw buttons (None
    afterwards: the message is plain text again and the buttons are gone)."""
    req = state.request if state is not None else svc.approvals.for_subject(KIND, row.id)
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
    approval's, when the caller has it already: its votes are re-read unless they were read
    in this very transaction, as a vote's are), in the caller's transaction when one is open
    (a move and the update it decides commit together); returns the row it rendered."""
    with rendering(svc, f"{KIND}:{plan_id}"):
        row = store(svc).get(plan_id)
        if state is not None and not state.current(svc.db):  # a later vote may have won
            state = svc.approvals.state(state.request)
        if row is not None and row.ts:
            update_message(svc, row.channel, row.ts, message_text(svc, row, state),
                           message_blocks(svc, row, state))
        return row
