"""The rules of one vote: which reaction or click counts, is refused, revoked or ignored,
each audited with the request's evidence, and how stored votes are made what Slack shows.
Applied inside the vote's transaction by :class:`bot.approvals.Approvals`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from bot.approvalstate import BUTTON, Votes, counted
from bot.clock import Clock, iso
from bot.groups import GroupResolver, describe
from storage.approvals import ApprovalStore, RequestRow, VoteRow
from storage.audit import AuditLog


class VoteRules:
    """Applies votes to a request's rows and audits each (no transaction of its own)."""

    def __init__(self, store: ApprovalStore, audit: AuditLog, groups: GroupResolver,
                 clock: Clock) -> None:
        self.store, self.audit, self.groups, self.clock = store, audit, groups, clock

    def refusal(self, req: RequestRow, user: str) -> str | None:
        """Why ``user``'s vote on ``req`` cannot count now (None: it can)."""
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

    def reaction(self, votes: Votes, user: str, reaction: str, added: bool, order: str) -> bool:
        """Apply one reaction event to ``votes`` (in the caller's transaction); True when a
        vote was counted or revoked."""
        req = votes.req
        evidence = {**self.evidence(req, reaction), "via": "reaction"}
        prev = votes.rows.get((user, reaction))
        if order and prev is not None and prev.event_order >= order:
            self.audit.append(user, "approval.ignored", req.subject, {
                **evidence, "event": "reaction_added" if added else "reaction_removed",
                "reason": f"a later event for this reaction was already applied "
                          f"(it left the vote {prev.state})"})
            return False
        now = iso(self.clock.now())
        if not added:
            if not votes.put(self.store, VoteRow(user, reaction, now, "removed", order),
                             prev) or prev is None or prev.state != "counted":
                return False
            self.audit.append(user, "approval.revoked", req.subject, evidence)
            return True
        reason = self.refusal(req, user)
        if reason:
            votes.put(self.store, VoteRow(user, reaction, now, "refused", order), prev)
            self.audit.append(user, "approval.refused", req.subject, {**evidence,
                                                                     "reason": reason})
            votes.refusal = reason
            return False
        again = prev is not None and prev.state == "counted"
        at = prev.at if again and prev else now
        if not votes.put(self.store, VoteRow(user, reaction, at, "counted", order),
                         prev) or again:
            return False  # the same vote again, or a concurrent event won
        self.audit.append(user, "approval.counted", req.subject, evidence)
        return True

    def button(self, votes: Votes, user: str, approve: bool) -> bool:
        """Apply one Approve (``approve``) or Withdraw click to ``votes``; True when a vote
        was counted or revoked (``votes.refusal`` says why a click did not count)."""
        req = votes.req
        evidence = {**self.evidence(req, BUTTON), "via": BUTTON}
        prev = votes.rows.get((user, BUTTON))
        now = iso(self.clock.now())
        if not approve:
            if prev is None or prev.state != "counted":
                other = [v for v in counted(votes.rows.values()) if v.user == user]
                votes.refusal = (f"you approved with :{other[0].reaction}:; remove that "
                                 "reaction to withdraw" if other else "you have not approved it")
                return False
            if not votes.put(self.store, replace(prev, at=now, state="removed"), prev):
                return False
            self.audit.append(user, "approval.revoked", req.subject, evidence)
            return True
        reason = self.refusal(req, user)
        if reason:
            votes.put(self.store, VoteRow(user, BUTTON, now, "refused"), prev)
            self.audit.append(user, "approval.refused", req.subject, {**evidence,
                                                                     "reason": reason})
            votes.refusal = reason
            return False
        if prev is not None and prev.state == "counted":
            return False  # a second click: the vote stands once
        if not votes.put(self.store, VoteRow(user, BUTTON, now, "counted"), prev):
            return False
        self.audit.append(user, "approval.counted", req.subject, evidence)
        return True

    @staticmethod
    def evidence(req: RequestRow, reaction: str) -> dict[str, Any]:
        """What every vote's audit entry cites: the request, the plan and the reaction."""
        return {"request": req.id, "kind": req.kind, "evidence_id": req.evidence_id,
                "digest": req.digest, "reaction": reaction}

    def reconcile(self, req: RequestRow, shown: Mapping[str, Sequence[str]]) -> bool:
        """Make the stored votes of ``req`` what its message shows (``shown``: reaction
        name -> users), in the caller's transaction; True if any changed. Each change is
        audited (``approval.counted`` / ``approval.revoked`` / ``approval.refused`` with
        ``via: reconciled``)."""
        names = tuple(req.policy.get("reactions", ()))
        rows = {(r.user, r.reaction): r for r in self.store.reactions(req.id)}
        now, changed = iso(self.clock.now()), False
        for name in names:
            for user in shown.get(name, ()):
                prev = rows.get((user, name))
                if prev is not None and prev.state == "counted":
                    continue
                changed |= self._reconcile_add(req, user, name, prev, now)
        for (user, name), r in rows.items():
            if r.state == "counted" and name in names and user not in shown.get(name, ()):
                if self.store.put_reaction(req.id, replace(r, state="removed"), prev=r):
                    self.audit.append(user, "approval.revoked", req.subject, {
                        **self.evidence(req, name), "via": "reconciled"})
                    changed = True
        return changed

    def _reconcile_add(self, req: RequestRow, user: str, name: str, prev: VoteRow | None,
                       now: str) -> bool:
        order = prev.event_order if prev else ""
        reason = self.refusal(req, user)
        if reason:  # said once; a refusal seen before stays silent
            if prev is None and self.store.put_reaction(
                    req.id, VoteRow(user, name, now, "refused", order), prev=None):
                self.audit.append(user, "approval.refused", req.subject, {
                    **self.evidence(req, name), "reason": reason, "via": "reconciled"})
            return False
        if not self.store.put_reaction(req.id, VoteRow(user, name, now, "counted", order),
                                       prev=prev):
            return False
        self.audit.append(user, "approval.counted", req.subject, {
            **self.evidence(req, name), "via": "reconciled"})
        return True
