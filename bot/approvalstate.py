"""The state of an approval request (who approved, what is still needed) and the vote rows
one vote works on (:mod:`bot.approvals` reads them in the vote's transaction)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from bot.groups import describe
from storage.approvals import ApprovalStore, RequestRow, VoteRow

if TYPE_CHECKING:
    from storage.db import Database

BUTTON = "button"
"""The name a vote cast with the Approve button is stored under (beside reaction names);
Slack's reactions never hold it, so reconciling leaves button votes alone."""


class ReactionReader(Protocol):
    """What Slack shows on a message now (``reactions.get``)."""

    def reactions(self, channel: str, ts: str) -> Mapping[str, Sequence[str]] | None:
        """Reaction name -> users who have it; None when Slack could not be asked."""
        ...


def event_order(event_time: float | int | str | None, event_ts: str | None) -> str:
    """A sortable key for a reaction event: Slack's ``event_time`` (seconds), then the
    event's own ``event_ts`` (microseconds) to order events within one second."""
    try:
        sec = int(float(event_time or 0))
    except ValueError:
        sec = 0
    whole, _, frac = (event_ts or "").partition(".")
    return f"{sec:012d}|{int(whole) if whole.isdigit() else 0:012d}.{frac[:6]:0<6}"


@dataclass(frozen=True)
class Vote:
    user: str
    at: str
    via: str = ""
    """How it was cast: a reaction name (``white_check_mark``) or ``button``."""

    def how(self) -> str:
        """``:white_check_mark:`` or ``button``, for the message's "approved by" line."""
        return self.via if self.via in ("", BUTTON) else f":{self.via}:"

    def record(self) -> dict[str, str]:
        """The vote as evidence records list it: ``{"user": ..., "at": ...}``."""
        return {"user": self.user, "at": self.at}


@dataclass(frozen=True)
class ApprovalState:
    """Where a request stands: who approved, how many are still needed."""

    request: RequestRow
    approved_by: tuple[Vote, ...]
    quorum: int
    expired: bool
    approvers: tuple[str, ...] = field(default=())
    refusal: str | None = None
    """Set when the vote that produced this state was refused (and why)."""
    read_in: object | None = field(default=None, compare=False, repr=False)
    """The write transaction the votes were read in (``Database.current_tx()``; None
    outside one): while it lasts they are still the committed votes."""

    def current(self, db: Database) -> bool:
        """Are these still the committed votes (read in the transaction ``db`` is in now)?"""
        return self.read_in is not None and self.read_in is db.current_tx()

    @property
    def needed(self) -> int:
        return max(0, self.quorum - len(self.approved_by))

    @property
    def reached(self) -> bool:
        return self.needed == 0 and not self.expired

    def needs_text(self) -> str:
        """``needs 1 more approval from <@U0ALICE> or @release-managers``."""
        if self.expired:
            return f"approval expired at {self.request.expires}: run a new dry-run"
        if self.reached:
            return "quorum reached"
        n, req = self.needed, self.request
        needs = f"needs {n} more approval{'s' if n != 1 else ''}"
        self_ok = bool(req.policy.get("allow_self_approval"))
        voted = {v.user for v in self.approved_by}
        who = [a for a in self.approvers
               if a not in voted and (self_ok or a != req.requester)]
        if self.approvers and not who:
            return (f"{needs}, but every listed approver has voted or is the requester: add "
                    "approvers to the config")
        text = f"{needs} from {describe(who)}"
        if not self_ok and (not who or any(a.startswith("@") for a in who)):
            text += f" other than <@{req.requester}>"  # a group may include the requester
        return text


def counted(rows: Iterable[VoteRow]) -> list[VoteRow]:
    """The rows that count now, oldest first (as :meth:`ApprovalStore.votes` orders them)."""
    return sorted((r for r in rows if r.state == "counted"), key=lambda r: (r.at, r.user))


class Votes:
    """One request's vote rows as read in a vote's transaction, kept current as it writes."""

    def __init__(self, req: RequestRow, rows: Iterable[VoteRow]) -> None:
        self.req = req
        self.rows = {(r.user, r.reaction): r for r in rows}
        self.refusal: str | None = None

    def put(self, store: ApprovalStore, row: VoteRow, prev: VoteRow | None) -> bool:
        """Write ``row`` (compare-and-set against ``prev``) and remember it."""
        if not store.put_reaction(self.req.id, row, prev=prev):
            return False
        self.rows[(row.user, row.reaction)] = row
        return True
