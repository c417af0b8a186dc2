"""Golden files: how a Block Kit message and an approval refusal read in the console/tests.

Regenerate after an intended change with ``UPDATE_GOLDEN=1 python -m pytest -q
tests/test_foundation_golden.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.render.common import (
    actions,
    blocks_to_text,
    button,
    checkboxes,
    context,
    divider,
    fields,
    header,
    section,
    user,
)
from tests.harness import Chat

GOLDEN = Path(__file__).parent / "golden" / "foundation"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    assert path.exists(), f"{path} missing (UPDATE_GOLDEN=1 to create)"
    assert text + "\n" == path.read_text(), f"{path} differs (UPDATE_GOLDEN=1 to refresh)"


def test_block_kit_renders_as_readable_text(chat: Chat) -> None:
    blocks = [
        header("Dry-run DR-T1: sync docs"),
        section(f"Requested by {user('U0ALICE')}: *3 files* change"),
        fields([("Source", "upstream/main"), ("Target", "docs/main")]),
        divider(),
        checkboxes("checks", "test:check", [("RL-01", "RL-01 changelog"),
                                             ("RL-02", "RL-02 tests green")], {"RL-01"}),
        actions("act", [button("Approve", "test:approve", "DR-T1", style="primary"),
                        button("Cancel", "test:cancel", "DR-T1", style="danger")]),
        context("needs 2 more approvals from <@U0ALICE>, <@U0BOB> or @release-managers"),
    ]
    from handlers.base import post_message

    post_message(chat.svc, "Dry-run DR-T1", blocks, "C0RELEASES")
    chat.wait()
    assert chat.last().rendered == blocks_to_text(blocks, "Dry-run DR-T1")
    check_golden("plan_message.txt", chat.last().rendered)


def test_refused_vote_ephemeral(chat: Chat) -> None:
    ts = chat.svc.client.chat_postMessage(channel="C0RELEASES", text="Plan T-1")["ts"]
    chat.svc.approvals.open(kind="test", subject="T-1", evidence_id="DR-T1", digest="0" * 64,
                            channel="C0RELEASES", ts=ts, requester="U0ALICE",
                            policy=chat.svc.config.current.approval,
                            approvers=("U0ALICE", "U0BOB", "@release-managers"))
    msg = chat.api.state.by_ts("C0RELEASES", ts)
    assert msg is not None
    said = chat.react("U0ALICE", msg)
    said2 = chat.react("U0DAVE", msg, "+1")
    check_golden("vote_refused.txt", "\n".join(m.rendered for m in said.private + said2.private))
