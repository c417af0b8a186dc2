"""A sync plan is an action of kind ``sync``: its status is the action's, through Bolt."""

from __future__ import annotations

from pathlib import Path

from bot.sync import flow
from tests.test_foundation_cli import relbot
from tests.test_sync_flow import config, plan_msg, setup_repos
from tests.test_sync_plan import sh, tree_hash

QUORUM1 = "    approval: {quorum: 1}\n"


def _plan_id(chat) -> str:
    return plan_msg(chat).rendered.split()[1]


def test_sync_status_is_the_actions_status(tmp_path: Path, make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst))
    chat.command("U0ALICE", "/sync plan docs")
    pid = _plan_id(chat)
    action = chat.svc.actions.get("sync", pid)
    assert action is not None and action.id == f"sync:{pid}" and action.status == "planned"
    plan = flow.store(chat.svc).get(pid)
    assert plan is not None and action.digest == plan.digest
    assert chat.command("U0BOB", f"/sync status {pid}").text.startswith(f"{pid} (docs): planned")
    assert chat.svc.actions.move("sync", pid, "cancelled", only_from=("planned",))
    assert f"{pid} (docs): cancelled" in chat.command("U0BOB", f"/sync status {pid}").text
    assert f"{pid} is cancelled" in chat.command("U0ALICE", f"/sync apply {pid}").text


def test_a_plan_runs_through_its_actions_moves(tmp_path: Path, make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst, QUORUM1))
    chat.command("U0ALICE", "/sync plan docs")
    pid = _plan_id(chat)
    chat.react("U0BOB", plan_msg(chat))
    done = chat.svc.actions.get("sync", pid)
    assert done is not None and done.status == "done" and not done.active
    status = chat.command("U0BOB", f"/sync status {pid}").text
    assert status.startswith(f"{pid} (docs): done - target now ")
    assert "status: done" in plan_msg(chat).rendered


def _make_old(chat) -> None:
    """Turn the chat's database into one written before the actions table existed: the
    plans' statuses only in ``sync_plans.status``, no ``actions`` table at all."""
    with chat.svc.db.tx() as c:
        for a in c.execute("SELECT subject, status FROM actions WHERE kind = 'sync'").fetchall():
            c.execute("UPDATE sync_plans SET status = ? WHERE id = ?", (a[1], a[0]))
        c.execute("DROP TABLE actions")
        c.execute("DELETE FROM schema_version WHERE component = 'actions'")
        c.execute("UPDATE schema_version SET version = 4 WHERE component = 'sync'")


def test_an_old_database_is_migrated_at_start_up_and_its_plan_executes(tmp_path: Path,
                                                                         make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst, QUORUM1))
    chat.command("U0ALICE", "/sync plan docs")
    pid = _plan_id(chat)
    chat.command("U0ALICE", "/sync plan docs")       # a second plan, cancelled before the upgrade
    other = _plan_id(chat)
    chat.command("U0ALICE", f"/sync cancel {other}")
    _make_old(chat)
    chat = chat.restart()                             # the new relbot on the old database
    try:
        assert f"{other} (docs): cancelled - by U0ALICE" in \
            chat.command("U0BOB", f"/sync status {other}").text
        said = chat.command("U0BOB", f"/sync status {pid}").text
        assert said.startswith(f"{pid} (docs): planned") and "approval: needs 1 more" in said
        before = tree_hash(dst)
        [msg] = [m for m in chat.messages if m.rendered.startswith(f"Dry-run {pid} ")]
        chat.react("U0BOB", msg)
        assert tree_hash(dst) != before
        assert f"relbot-evidence: {pid}" in sh("log", "-1", "--format=%B", "main", cwd=dst)
        assert chat.command("U0BOB", f"/sync status {pid}").text.startswith(
            f"{pid} (docs): done")
    finally:
        chat.close()


def test_relbot_db_migrate_brings_an_old_database_up_to_date(tmp_path: Path,
                                                            make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst))
    chat.command("U0ALICE", "/sync plan docs")
    pid = _plan_id(chat)
    _make_old(chat)
    url = chat.database or f"sqlite:///{chat.db_path}"
    r = relbot("db", "migrate", "--db", url, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "actions 0 -> 1" in r.stdout and "sync 4 -> 5" in r.stdout, r.stdout
    chat = chat.restart()
    try:
        assert chat.command("U0BOB", f"/sync status {pid}").text.startswith(
            f"{pid} (docs): planned")
    finally:
        chat.close()


def test_approval_kinds_are_one_table_handed_in_at_wiring(tmp_path: Path, make_chat) -> None:
    from bot.actions.kinds import APPROVAL_KINDS

    # each follower is its feature's function, imported at the kind's first vote (bot.lazy)
    assert {k: (f.__module__, f.__name__) for k, f in APPROVAL_KINDS.items()} == {
        "sync": ("bot.sync.run", "on_change"), "rollback": ("bot.rollback.flow", "on_approval")}
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst, QUORUM1))
    assert chat.svc.approvals.followers is APPROVAL_KINDS
    bare = make_chat(config(src, dst, QUORUM1), approval_kinds={})  # no feature registers
    bare.command("U0ALICE", "/sync plan docs")                     # one itself at start-up
    before = tree_hash(dst)
    bare.react("U0BOB", plan_msg(bare))
    assert [e.actor for e in bare.audit("approval.counted")] == ["U0BOB"]
    assert tree_hash(dst) == before and not bare.audit("sync.success")
