"""Golden files for the rollback message and its evidence record (UPDATE_GOLDEN=1 to refresh).

Both come from a real RB-IMM run on a fake clock, so every timestamp and digest is stable.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from bot.rollback.evidence import evidence
from bot.rollback.lookup import find
from tests.rollback_fixtures import rb_message, rollback_chat

GOLDEN = Path(__file__).parent / "golden" / "rollback"


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text()


def test_rollback_message_and_evidence_golden(make_chat) -> None:
    chat = rollback_chat(make_chat)
    (chat.tmp / "health.need").write_text("2")
    chat.command("U0ALICE", "/rollback api 1.4.0 sev=1 impact=widespread error rate 40%")
    chat.tick("U0DAVE", rb_message(chat), "rollback:checklist:pre", ["pre-1", "pre-3"])
    _check("rb-imm-message.txt", rb_message(chat).rendered + "\n")
    rec = evidence(chat.svc, find(chat.svc, "RB-0001"))
    rec.pop("audit")  # sequence numbers and hashes are checked in test_rollback_evidence
    for c in rec["commands"] + rec["verification"]:
        c.pop("seconds")  # wall time of a real subprocess
        c.pop("audit_seq")
    for items in rec["checklists"].values():
        for it in items:
            it.pop("audit_seq", None)
    _check("rb-imm-evidence.yaml", yaml.safe_dump(rec, sort_keys=False))
