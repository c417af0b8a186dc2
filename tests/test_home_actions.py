"""App Home actions: what the viewing user can act on now, with buttons that work."""

from __future__ import annotations

from pathlib import Path

from tests.rollback_fixtures import PLANNED, rb_message, rollback_chat
from tests.test_release_fixtures import config as release_config
from tests.test_release_flow import _ready_repo
from tests.test_sync_flow import config, plan_msg, setup_repos


def _home(chat, user: str) -> str:  # type: ignore[no-untyped-def]
    chat.home(user)
    return chat.home_text(user)


def test_home_lists_plans_each_user_may_approve_and_its_button_votes(tmp_path: Path,
                                                                     make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst))
    chat.command("U0ALICE", "/sync plan docs")
    pid = plan_msg(chat).rendered.split()[1]
    assert "Nothing is waiting on you." in _home(chat, "U0ALICE")   # her own plan
    assert "Nothing is waiting on you." in _home(chat, "U0DAVE")    # not an approver
    bob = _home(chat, "U0BOB")
    assert f"sync plan {pid}" in bob and "[Approve]" in bob
    req = chat.svc.approvals.for_subject("sync", pid)
    chat.home_click("U0BOB", "home:approve", req.id)
    [counted] = [e for e in chat.audit("approval.counted") if e.action == "approval.counted"]
    assert counted.actor == "U0BOB" and counted.payload["via"] == "button"
    assert counted.payload["digest"] == req.digest
    assert "<@U0BOB> by button" in plan_msg(chat).rendered          # the message says so
    assert f"sync plan {pid}" not in chat.home_text("U0BOB")        # re-published: done
    carol = _home(chat, "U0CAROL")
    assert "needs 1 more approval" in carol
    chat.home_click("U0CAROL", "home:approve", req.id)
    assert chat.audit("sync.success")
    assert "Nothing is waiting on you." in chat.home_text("U0CAROL")


def test_home_lists_checks_the_user_may_confirm(tmp_path: Path, make_chat) -> None:
    repo = _ready_repo(tmp_path)
    chat = make_chat(release_config(repo))
    chat.command("U0ALICE", "/release start api")
    alice = _home(chat, "U0ALICE")
    assert "RL-05 Documentation updated of api 1.3.0: pending" in alice
    assert "RL-06" not in alice                       # the starter may not confirm RL-06
    carol = _home(chat, "U0CAROL")
    assert "RL-06 Security reviewed of api 1.3.0: pending" in carol
    chat.home_click("U0CAROL", "home:confirm", "1:RL-06")
    [row] = [m for m in chat.messages if m.rendered.startswith("== Release api 1.3.0")]
    assert "RL-06 Security reviewed: pass — <@U0CAROL>" in row.rendered
    assert "RL-06" not in chat.home_text("U0CAROL")
    [confirmed] = [e for e in chat.audit("release.check") if e.action == "release.check"
                   and e.payload["check"] == "RL-06"]
    assert confirmed.actor == "U0CAROL" and confirmed.payload["result"] == "pass"


def test_home_lists_rollbacks_waiting_on_the_user(make_chat) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", PLANNED)
    bob = _home(chat, "U0BOB")
    assert "rollback RB-0001" in bob and "[Approve]" in bob
    req = chat.svc.approvals.for_subject("rollback", "RB-0001")
    chat.home_click("U0BOB", "home:approve", req.id)
    assert "rollback RB-0001" in _home(chat, "U0CAROL")
    chat.home_click("U0CAROL", "home:approve", req.id)
    assert "): scheduled" in rb_message(chat).text
