"""Approval by reaction, bound to one exact dry-run (DR-06).

A feature opens a request for the message that shows its plan (evidence id + digest).
Reactions on that message are votes: only configured approval reactions count, only from
distinct authorised approvers, never from the requester unless self-approval is allowed,
never after expiry. Every counted, refused or revoked vote is audited with the evidence id
and digest. The kind's follower (:data:`bot.actions.kinds.APPROVAL_KINDS`, handed in at
wiring) re-renders and executes.

Votes match what Slack shows: per (message, user, reaction) the event with the latest
``event_time`` wins (an older event delivered late is ignored, and audited); before a quorum
is acted on, and when a request opens or relbot starts, the message's reactions are read back
from Slack (:class:`ReactionReader`) and reconciled: reactions no longer there stop counting,
reactions whose events never arrived count (audited with ``via: reconciled``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from bot.approvalstate import BUTTON, ApprovalState, ReactionReader, Vote, Votes, counted
from bot.approvalstate import event_order as event_order  # re-exported: handlers use it
from bot.clock import Clock, iso
from bot.configbase import ApprovalPolicy
from bot.groups import GroupResolver
from bot.voterules import VoteRules
from storage.approvals import ApprovalStore, RequestRow, VoteRow
from storage.audit import AuditLog

if TYPE_CHECKING:
    from bot.actions.kinds import ApprovalFollower
    from bot.services import Services

log = logging.getLogger(__name__)

NO_REQUEST = "no approval is open on this message"


class Approvals:
    """Open approval requests and count reaction votes on them."""

    def __init__(self, store: ApprovalStore, audit: AuditLog, groups: GroupResolver,
                 clock: Clock, reader: ReactionReader | None = None,
                 vote_reactions: Callable[[], frozenset[str]] = frozenset,
                 followers: Mapping[str, ApprovalFollower] | None = None) -> None:
        self.store, self.audit, self.groups, self.clock = store, audit, groups, clock
        self.reader = reader
        self.vote_reactions = vote_reactions
        """Reactions that are votes somewhere (a vote on a message with no request is
        audited only for these)."""
        self.followers: Mapping[str, ApprovalFollower] = followers or {}
        """Kind -> its follower, told after each counted or revoked vote on that kind."""
        self.services: Services | None = None  # set by the app; passed to the followers
        self.rules = VoteRules(store, audit, groups, clock)

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
        with self.store.db.tx():  # the request and its audit entry commit together
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

    def state(self, req: RequestRow, now: datetime | None = None,
              rows: Iterable[VoteRow] | None = None) -> ApprovalState:
        """Where ``req`` stands now; ``rows``: its vote rows when the caller has just read
        them (a vote, in its transaction), else they are read."""
        now = now or self.clock.now()
        first: dict[str, tuple[str, str]] = {}
        for v in self.store.votes(req.id) if rows is None else counted(rows):
            first.setdefault(v.user, (v.at, v.reaction))
        votes = tuple(Vote(u, at, via) for u, (at, via)
                      in sorted(first.items(), key=lambda x: x[1][0]))
        expired = req.status == "open" and iso(now) >= req.expires
        return ApprovalState(req, votes, int(req.policy["quorum"]), expired,
                             tuple(req.policy.get("approvers") or ()),
                             read_in=self.store.db.current_tx())

    def reopen(self, req: RequestRow) -> RequestRow | None:
        """An approved request that lost its quorum collects votes again; if its window has
        passed meanwhile it gets a fresh one as long as the first. None if it was not approved."""
        now = self.clock.now()
        ttl = datetime.fromisoformat(req.expires) - datetime.fromisoformat(req.created)
        expires = max(req.expires, iso(now + ttl))
        with self.store.db.tx():
            if not self.store.reopen(req.id, "approved", expires):
                return None
            self.audit.append("relbot", "approval.reopened", req.subject, {
                "request": req.id, "expires": expires})
        return replace(req, status="open", expires=expires)

    def transition(self, request_id: str, from_status: str, to_status: str) -> bool:
        """Atomically move a request between statuses (exactly one caller wins)."""
        return self.store.transition(request_id, from_status, to_status)

    def react(self, *, channel: str, ts: str, user: str, reaction: str, added: bool,
              order: str = "", on_bot_message: bool = True) -> ApprovalState | None:
        """Handle one reaction event (``order``: :func:`event_order` of it); returns the new
        state, or None if it is not a vote on a request.

        One transaction reads the request with its votes, writes the vote and its audit
        entry (writers are serialised, so the state computed from that read is the latest)
        and, short of a quorum, tells the kind (:meth:`_told`); a quorum is checked against
        Slack and acted on after it commits."""
        return self._recorded(lambda follow: self._react_tx(
            channel, ts, user, reaction, added, order, on_bot_message, follow))

    def _react_tx(self, channel: str, ts: str, user: str, reaction: str, added: bool,
                  order: str, on_bot_message: bool, follow: bool) -> ApprovalState | None:
        with self.store.db.tx():
            found = self.store.with_reactions(channel, ts)
            if found is None:
                if added and on_bot_message and reaction in self.vote_reactions():
                    self.audit.append(user, "approval.refused", f"message:{channel}/{ts}", {
                        "reaction": reaction, "reason": NO_REQUEST,
                        "message": {"channel": channel, "ts": ts}})
                return None
            req, rows = found
            if reaction not in req.policy.get("reactions", ()):
                return None
            votes = Votes(req, rows)
            changed = self.rules.reaction(votes, user, reaction, added, order)
            state, then = self._told(votes, changed, follow)
        if votes.refusal:
            return replace(state, refusal=votes.refusal)
        return self._after(req, state, then)

    def button(self, *, channel: str, ts: str, user: str, request_id: str,
               approve: bool) -> ApprovalState | None:
        """The Approve (``approve``) or Withdraw button on message (channel, ts): the same
        policy and audit as a reaction (``via: button``), bound to the request of that very
        message. None when no request is open there (audited); ``refusal`` says why a click
        did not count. One transaction, as :meth:`react`."""
        return self._recorded(lambda follow: self._button_tx(
            channel, ts, user, request_id, approve, follow))

    def _button_tx(self, channel: str, ts: str, user: str, request_id: str, approve: bool,
                   follow: bool) -> ApprovalState | None:
        with self.store.db.tx():
            found = self.store.with_reactions(channel, ts)
            if found is None or found[0].id != request_id:
                self.audit.append(user, "approval.refused", f"message:{channel}/{ts}", {
                    "request": request_id, "reason": NO_REQUEST, "via": BUTTON,
                    "message": {"channel": channel, "ts": ts}})
                return None
            req = found[0]
            votes = Votes(req, found[1])
            changed = self.rules.button(votes, user, approve)
            state, then = self._told(votes, changed, follow)
        if votes.refusal:
            return replace(state, refusal=votes.refusal)
        return self._after(req, state, then)

    def _recorded(self, attempt: Callable[[bool], ApprovalState | None]
                  ) -> ApprovalState | None:
        """``attempt(True)``: one vote, its kind told inside its transaction. When the kind
        fails there, that transaction is undone and the vote recorded on its own
        (``attempt(False)``), the kind told after the commit: a failing kind never loses a
        vote (nor its audit entry)."""
        try:
            return attempt(True)
        except _FollowerFailed as exc:
            log.warning("the kind failed inside the vote's transaction (%s): recording the "
                        "vote on its own", type(exc.__cause__).__name__)
            return attempt(False)

    def _told(self, votes: Votes, changed: bool, follow: bool
              ) -> tuple[ApprovalState, str | None]:
        """In the vote's transaction: its state, and what is left to do after the commit.
        A counted or revoked vote short of a quorum tells the kind at once (``follow``), so
        the message update it queues commits with the vote; a quorum is first confirmed
        against Slack, after the commit. (``votes.req`` was read by this vote; its status
        only moves by the kind's own follower.)"""
        state = self.state(votes.req, rows=votes.rows.values())
        if not changed:
            return state, None
        if state.reached and votes.req.status == "open":
            return state, "quorum"
        if not follow:
            return state, "notify"
        try:
            self._notify(state)
        except Exception as exc:
            raise _FollowerFailed from exc
        return state, None

    def _after(self, req: RequestRow, state: ApprovalState, then: str | None
               ) -> ApprovalState:
        """After the vote's commit: at a ``quorum`` confirm it against the reactions Slack
        shows, then tell the kind (which may execute: never in the vote's transaction);
        ``notify``: tell the kind."""
        if then == "quorum":
            state = self.confirm(req)
        if then is not None:
            self._notify(state)
        return state

    def _notify(self, state: ApprovalState) -> None:
        follower = self.followers.get(state.request.kind)
        if follower is not None and self.services is not None:
            follower(self.services, state)

    def confirm(self, req: RequestRow, *, notify: bool = False) -> ApprovalState:
        """The request's state once its votes are reconciled with the reactions Slack shows
        on its message now (only those still there count); unchanged if Slack can't say.
        ``notify``: tell the kind when that changed anything (its message shows the votes)."""
        changed = self.reconcile(req)
        state = self._fresh_state(req)
        if changed and notify:
            self._notify(state)
        return state

    def _fresh_state(self, req: RequestRow) -> ApprovalState:
        """The state of ``req`` re-read (status and votes) in one statement."""
        found = self.store.with_reactions(req.channel, req.ts)
        if found is None or found[0].id != req.id:
            return self.state(self.store.get(req.id) or req)
        return self.state(found[0], rows=found[1])

    def opened(self, req: RequestRow) -> ApprovalState | None:
        """Call once a feature has finished opening ``req`` (message posted, jobs set):
        reactions made before the request existed are counted, and the kind is told."""
        if not self.reconcile(req):
            return None
        state = self._fresh_state(req)
        self._notify(state)
        return state

    def reconcile_open(self) -> int:
        """At start-up: reconcile every open request still in its window with its message
        (votes cast while relbot was down); returns how many changed."""
        changed = 0
        for req in self.store.open_requests():
            try:
                if iso(self.clock.now()) < req.expires and self.opened(req) is not None:
                    changed += 1
            except Exception:  # one request's fault must not stop the others
                log.exception("could not reconcile approval %s", req.id)
        return changed

    def reconcile(self, req: RequestRow) -> bool:
        """Make the stored votes of ``req`` what its message shows; True if any changed.
        Each change is audited (``approval.counted`` / ``approval.revoked`` /
        ``approval.refused`` with ``via: reconciled``)."""
        shown = self.reader.reactions(req.channel, req.ts) if self.reader else None
        if shown is None:
            return False
        with self.store.db.tx():  # every change and its audit entry in one transaction
            return self.rules.reconcile(req, shown)



class _FollowerFailed(Exception):  # noqa: N818 - a signal inside Approvals, never raised out
    """A kind's follower raised inside a vote's transaction (its cause is the error)."""
