"""Approval by reaction, bound to one exact dry-run (DR-06).

A feature opens a request for the message that shows its plan (evidence id + digest).
Reactions on that message are votes: only configured approval reactions count, only from
distinct authorised approvers, never from the requester unless self-approval is allowed,
never after expiry. Every counted, refused or revoked vote is audited with the evidence id
and digest. Features register an ``on_change`` hook per kind to re-render and execute.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.clock import Clock, iso
from bot.configbase import ApprovalPolicy
from bot.groups import GroupResolver, describe
from storage.approvals import ApprovalStore, RequestRow
from storage.audit import AuditLog

log = logging.getLogger(__name__)

OnChange = Callable[[Any, "ApprovalState"], None]


@dataclass(frozen=True)
class Vote:
    user: str
    at: str

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


class Approvals:
    """Open approval requests and count reaction votes on them."""

    def __init__(self, store: ApprovalStore, audit: AuditLog, groups: GroupResolver,
                 clock: Clock) -> None:
        self.store, self.audit, self.groups, self.clock = store, audit, groups, clock
        self._hooks: dict[str, OnChange] = {}
        self.services: Any = None  # set by the app; passed to hooks

    def register_kind(self, kind: str, on_change: OnChange) -> None:
        """Call ``on_change(svc, state)`` after each counted or revoked vote on ``kind``."""
        self._hooks[kind] = on_change

    def open(self, *, kind: str, subject: str, evidence_id: str, digest: str, channel: str,
             ts: str, requester: str, policy: ApprovalPolicy,
             approvers: tuple[str, ...]) -> RequestRow:
        """Start collecting approvals on message (channel, ts) for that exact plan."""
        now = self.clock.now()
        rid = "AP-" + hashlib.sha256(f"{kind}:{subject}:{channel}:{ts}".encode()).hexdigest()[:8]
        row = RequestRow(
            id=rid, kind=kind, subject=subject, evidence_id=evidence_id, digest=digest,
            channel=channel, ts=ts, requester=requester,
            policy={"quorum": policy.quorum, "reactions": list(policy.reactions),
                    "allow_self_approval": policy.allow_self_approval,
                    "approvers": list(approvers)},
            created=iso(now), expires=iso(now + policy.expires), status="open")
        self.store.insert(row)
        self.audit.append(requester, "approval.requested", subject, {
            "request": rid, "kind": kind, "evidence_id": evidence_id, "digest": digest,
            "quorum": policy.quorum, "approvers": list(approvers), "expires": row.expires,
            "message": {"channel": channel, "ts": ts}})
        return row

    def get(self, request_id: str) -> RequestRow | None:
        return self.store.get(request_id)

    def for_subject(self, kind: str, subject: str) -> RequestRow | None:
        """The newest request for ``subject`` (a plan or rollback id)."""
        rows = self.store.by_subject(kind, subject)
        return rows[-1] if rows else None

    def state(self, req: RequestRow, now: datetime | None = None) -> ApprovalState:
        now = now or self.clock.now()
        first: dict[str, str] = {}
        for v in self.store.votes(req.id):
            first.setdefault(v.user, v.at)
        votes = tuple(Vote(u, at) for u, at in sorted(first.items(), key=lambda x: x[1]))
        expired = req.status == "open" and iso(now) >= req.expires
        return ApprovalState(req, votes, int(req.policy["quorum"]), expired,
                             tuple(req.policy.get("approvers") or ()))

    def reopen(self, req: RequestRow) -> RequestRow | None:
        """An approved request that lost its quorum collects votes again; if its window has
        passed meanwhile it gets a fresh one as long as the first. None if it was not approved."""
        now = self.clock.now()
        ttl = datetime.fromisoformat(req.expires) - datetime.fromisoformat(req.created)
        expires = max(req.expires, iso(now + ttl))
        if not self.store.reopen(req.id, "approved", expires):
            return None
        self.audit.append("relbot", "approval.reopened", req.subject, {
            "request": req.id, "expires": expires})
        return self.store.get(req.id)

    def transition(self, request_id: str, from_status: str, to_status: str) -> bool:
        """Atomically move a request between statuses (exactly one caller wins)."""
        return self.store.transition(request_id, from_status, to_status)

    def _refusal(self, req: RequestRow, user: str) -> str | None:
        if req.status != "open":
            return f"request is {req.status}"
        if iso(self.clock.now()) >= req.expires:
            return f"approval window expired at {req.expires}"
        if user == req.requester and not req.policy.get("allow_self_approval"):
            return "self-approval is not allowed (the requester's own reaction does not count)"
        approvers = req.policy.get("approvers") or None
        if not self.groups.allowed(user, approvers):
            return f"not an approver (approvers: {describe(approvers or ())})"
        return None

    def react(self, *, channel: str, ts: str, user: str, reaction: str,
              added: bool) -> ApprovalState | None:
        """Handle one reaction event; returns the new state, or None if not a vote."""
        req = self.store.by_message(channel, ts)
        if req is None or reaction not in req.policy.get("reactions", ()):
            return None
        evidence = {"request": req.id, "kind": req.kind, "evidence_id": req.evidence_id,
                    "digest": req.digest, "reaction": reaction}
        now = iso(self.clock.now())
        if added:
            reason = self._refusal(req, user)
            if reason:
                self.audit.append(user, "approval.refused", req.subject, {**evidence,
                                                                         "reason": reason})
                return replace(self.state(req), refusal=reason)
            if not self.store.add_vote(req.id, user, reaction, now):
                return self.state(req)  # the same vote again (e.g. a Slack retry)
            self.audit.append(user, "approval.counted", req.subject, evidence)
        else:
            if not self.store.remove_vote(req.id, user, reaction):
                return self.state(req)
            self.audit.append(user, "approval.revoked", req.subject, evidence)
        req = self.store.get(req.id) or req
        state = self.state(req)
        hook = self._hooks.get(req.kind)
        if hook is not None:
            hook(self.services, state)
        return state
