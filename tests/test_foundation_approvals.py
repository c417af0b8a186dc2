"""The approval engine through real reaction events, with a test-only approval kind."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.actions.kinds import APPROVAL_KINDS
from bot.approvals import ApprovalState
from bot.standin.webapi import Message
from tests.harness import Chat

DIGEST = "ab" * 32


class Seen(list[ApprovalState]):
    """The test kind's follower: every state it is told of."""

    def __call__(self, svc: object, state: ApprovalState) -> None:
        self.append(state)


def kind_chat(make_chat: Any, **kw: Any) -> Chat:
    """A chat whose approval kinds are the app's plus ``test`` (a :class:`Seen`)."""
    return make_chat(approval_kinds={**APPROVAL_KINDS, "test": Seen()}, **kw)


@pytest.fixture
def chat(make_chat: Any) -> Chat:
    return kind_chat(make_chat)


def open_request(chat: Chat, requester: str = "U0ERIN",
                 approvers: tuple[str, ...] = ("U0ALICE", "U0BOB", "@release-managers"),
                 ) -> tuple[Message, list[ApprovalState]]:
    """Post a plan message and open a test-kind approval request on it."""
    seen = chat.svc.approvals.followers["test"]
    assert isinstance(seen, Seen)
    ts = chat.svc.client.chat_postMessage(channel="C0RELEASES", text="Plan T-1")["ts"]
    chat.svc.approvals.open(kind="test", subject="T-1", evidence_id="DR-T1", digest=DIGEST,
                            channel="C0RELEASES", ts=ts, requester=requester,
                            policy=chat.svc.config.current.approval, approvers=approvers)
    msg = chat.api.state.by_ts("C0RELEASES", ts)
    assert msg is not None
    return msg, seen


def test_quorum_of_distinct_approvers(chat: Chat) -> None:
    msg, seen = open_request(chat)
    chat.react("U0ALICE", msg, "white_check_mark")
    chat.react("U0ALICE", msg, "+1")                     # same person again: still one
    assert [s.reached for s in seen][-1] is False
    assert seen[-1].needs_text().startswith("needs 1 more approval from")
    chat.react("U0BOB", msg, "+1")
    assert seen[-1].reached
    assert [v.user for v in seen[-1].approved_by] == ["U0ALICE", "U0BOB"]
    chat.react("U0CAROL", msg, "eyes")                    # not an approval reaction
    assert len(chat.audit("approval.")) == 1 + 3          # requested + 3 counted votes


def test_self_approval_excluded_and_told(chat: Chat) -> None:
    msg, seen = open_request(chat, requester="U0ALICE")
    said = chat.react("U0ALICE", msg)
    assert seen == []
    [refused] = chat.audit("approval.refused")
    assert refused.actor == "U0ALICE" and "self-approval" in refused.payload["reason"]
    [eph] = said.private
    assert eph.to_user == "U0ALICE" and "was not counted" in eph.text
    assert "self-approval" in eph.text


def test_unauthorised_approver_ignored_audited_and_told(chat: Chat) -> None:
    msg, seen = open_request(chat, approvers=("U0ALICE", "U0BOB"))
    said = chat.react("U0DAVE", msg)
    said2 = chat.react("U0CAROL", msg)
    assert seen == []
    reasons = [e.payload["reason"] for e in chat.audit("approval.refused")]
    assert len(reasons) == 2 and all("not an approver" in r for r in reasons)
    assert "not counted" in said.private[0].text and said.private[0].to_user == "U0DAVE"
    assert said2.private[0].to_user == "U0CAROL"


def test_group_members_resolved_via_usergroups_with_ttl_cache(make_chat: object) -> None:
    chat = kind_chat(make_chat, groups={"release-managers": ["U0CAROL"]})
    msg, seen = open_request(chat, approvers=("@release-managers",))
    chat.react("U0CAROL", msg)
    assert [v.user for v in seen[-1].approved_by] == ["U0CAROL"]
    lists = chat.api.calls("usergroups.list")
    members = chat.api.calls("usergroups.users.list")
    assert len(lists) == 1 and len(members) == 1
    gid = next(iter(chat.api.state.groups))
    assert members[0].params["usergroup"] == gid          # the ID, not the handle

    # U0DAVE joins the group: within the TTL the cached membership still applies ...
    chat.api.state.groups[gid]["users"].append("U0DAVE")
    chat.react("U0DAVE", msg)
    assert "not an approver" in chat.audit("approval.refused")[-1].payload["reason"]
    assert len(chat.api.calls("usergroups.users.list")) == 1
    # ... after it, the group is looked up again and the vote counts.
    chat.clock.advance(minutes=6)
    chat.unreact("U0DAVE", msg)
    chat.react("U0DAVE", msg)
    assert seen[-1].reached
    assert len(chat.api.calls("usergroups.users.list")) == 2


def test_reaction_removed_revokes(chat: Chat) -> None:
    msg, seen = open_request(chat)
    chat.react("U0ALICE", msg)
    chat.react("U0BOB", msg)
    assert seen[-1].reached
    chat.unreact("U0BOB", msg)
    assert not seen[-1].reached and seen[-1].needed == 1
    [revoked] = chat.audit("approval.revoked")
    assert revoked.actor == "U0BOB"


def test_expired_request_no_longer_counts(chat: Chat) -> None:
    msg, seen = open_request(chat)
    chat.react("U0ALICE", msg)
    chat.clock.advance(chat.svc.config.current.approval.expires + timedelta(minutes=1))
    said = chat.react("U0BOB", msg)
    assert len(seen) == 1
    assert "expired" in chat.audit("approval.refused")[-1].payload["reason"]
    assert "expired" in said.private[0].text
    req = chat.svc.approvals.for_subject("test", "T-1")
    assert req is not None and chat.svc.approvals.state(req).expired


def test_every_vote_audit_carries_evidence_id_and_digest(chat: Chat) -> None:
    msg, _ = open_request(chat)
    chat.react("U0ALICE", msg)
    chat.react("U0DAVE", msg)
    chat.unreact("U0ALICE", msg)
    entries = chat.audit("approval.")
    assert [e.action for e in entries] == ["approval.requested", "approval.counted",
                                           "approval.refused", "approval.revoked"]
    for e in entries:
        assert e.payload["evidence_id"] == "DR-T1" and e.payload["digest"] == DIGEST
        assert e.subject == "T-1"
    assert chat.svc.audit.verify().ok
