"""Issue 12 item 8: an immediate rollback supersedes a stopped one of the same product, and
check-config warns when a config rollback's default ref does not exist."""

from __future__ import annotations

from pathlib import Path

from bot.cli import cmd_check_config
from tests.rollback_fixtures import config_sync_config, rb_message, rollback_chat, verified
from tests.test_rollback_config import _repos


def test_a_config_rollback_stopped_at_plan_is_superseded_by_an_immediate_one(
        tmp_path: Path, make_chat) -> None:
    src, dst = _repos(tmp_path)
    chat = rollback_chat(make_chat, config_sync_config(src, dst))
    from tests.test_sync_plan import sh
    sh("tag", "-d", "v1.3.0", cwd=src)       # the config rollback's default ref is missing
    chat.command("U0ALICE", "/rollback api sev=3 impact=limited type=config pool")
    from bot.rollback.lookup import find
    assert find(chat.svc, "RB-0001").status == "failed"
    assert "2. Plan — failed" in rb_message(chat).rendered
    # a planned cell does not supersede it: the answer says what would
    said = chat.command("U0ALICE", "/rollback api sev=4 impact=minimal slow")
    assert "already has an active rollback RB-0001" in said.text
    assert "only a rollback whose matrix cell is immediate supersedes a stopped one" in said.text
    said = chat.command("U0ALICE", "/rollback api sev=1 impact=widespread 500s everywhere")
    assert "already has an active rollback" not in said.text, said.text
    old, new = find(chat.svc, "RB-0001"), find(chat.svc, "RB-0002")
    assert old.status == "superseded" and old.record.superseded_by == "RB-0002"
    assert new.status == "done"
    [e] = chat.audit("rollback.superseded")
    assert e.subject == "RB-0001" and e.actor == "U0ALICE" and e.payload["cell"] == \
        "critical x widespread"
    assert any("immediate rollback RB-0002 supersedes the stopped RB-0001" in m.text
               for m in chat.messages)
    assert verified(chat, "RB-0001")["status"] == "superseded"
    assert chat.svc.locks.frozen("api").ref == "RB-0002"


def test_a_stopped_rollback_keeps_its_lock_until_the_superseding_one_takes_it(
        make_chat) -> None:
    chat = rollback_chat(make_chat)
    (chat.tmp / "fail").write_text("x")
    chat.command("U0ALICE", "/rollback api sev=1 impact=widespread 500s after 1.4.0")
    from bot.rollback.lookup import find
    assert find(chat.svc, "RB-0001").status == "failed"
    assert chat.svc.locks.frozen("api").ref == "RB-0001"
    (chat.tmp / "fail").unlink()
    chat.command("U0BOB", "/rollback api sev=2 impact=widespread still 500s")
    assert find(chat.svc, "RB-0001").status == "superseded"
    [e] = chat.audit("rollback.superseded")
    assert e.payload["lock_kept"] is True
    assert "*Status*: done" in rb_message(chat).rendered
    assert chat.svc.locks.frozen("api").ref == "RB-0002"
    assert chat.audit("rollback.lock.handed_over")[0].subject == "RB-0001"
    said = chat.command("U0CAROL", "/rollback resolve RB-0002 fixed forward in 1.4.1")
    assert chat.svc.locks.frozen("api") is None, said.text
    lifted = [e.subject for e in chat.audit("rollback.unlocked")]
    assert lifted == ["RB-0002", "RB-0001"]
    verified(chat, "RB-0001")


def test_check_config_warns_when_a_config_rollbacks_default_ref_is_missing(
        tmp_path: Path, make_chat) -> None:
    src, dst = _repos(tmp_path)              # config.git has v1.3.0 only
    chat = rollback_chat(make_chat, config_sync_config(src, dst))
    text, code = cmd_check_config(str(chat.config_path))
    assert code == 0 and "config_sync" not in text           # v1.3.0 exists: no warning
    from tests.test_sync_plan import sh
    sh("tag", "-d", "v1.3.0", cwd=src)
    text, code = cmd_check_config(str(chat.config_path))
    assert code == 0
    assert ("warning: rollback.products.api.config_sync: the default ref v1.3.0 of a config "
            "rollback (the last known good release) does not exist in") in text
    assert "without to= would stop at Plan" in text


def test_rollback_matrix_shows_the_effective_cells(make_chat) -> None:
    from tests.rollback_fixtures import rollback_config
    matrix = "  matrix:\n    medium:\n      widespread: {type: immediate, approvals: 0}\n"
    chat = rollback_chat(make_chat, rollback_config(rollback_extra=matrix))
    said = chat.command("U0DAVE", "/rollback matrix")
    text = said.text
    assert "Rollback decision matrix" in text
    rows = {line.split()[0]: line for line in text.splitlines()
            if line.split() and line.split()[0] in ("critical", "high", "medium", "low")}
    assert "immediate, 0 approvals*" in rows["medium"]
    assert rows["high"].split("  ")[0] == "high"
    assert "partial, 1 approval " in rows["high"] + " " and "planned, 2 approvals" in rows["low"]
    assert "immediate, 0 approvals, on-call" in rows["critical"]
    assert "* set in rollback.matrix" in text
    # and the overridden cell is what a request gets
    said = chat.command("U0ALICE", "/rollback api sev=3 impact=widespread errors")
    assert "-> immediate" in said.text
