"""Config rollback: the product's config sync from an earlier ref (dry-run, approval, apply)."""

from __future__ import annotations

from pathlib import Path

from tests.rollback_fixtures import config_sync_config, rb_message, rollback_chat, verified
from tests.test_sync_plan import sh, write


def _repos(tmp: Path) -> tuple[Path, Path]:
    """config.git (v1.3.0: pool 10, main: pool 20) and deploy.git (pool 20)."""
    work = tmp / "config-work"
    work.mkdir()
    sh("init", "-q", "-b", "main", cwd=work)
    write(work, {"config/app.yaml": "db:\n  pool: 10\n"})
    sh("tag", "-a", "v1.3.0", "-m", "v1.3.0", cwd=work)
    write(work, {"config/app.yaml": "db:\n  pool: 20\n"})
    sh("clone", "-q", "--bare", str(work), str(tmp / "config.git"), cwd=tmp)
    deploy = tmp / "deploy-work"
    deploy.mkdir()
    sh("init", "-q", "-b", "main", cwd=deploy)
    write(deploy, {"config/app.yaml": "db:\n  pool: 20\n"})
    sh("clone", "-q", "--bare", str(deploy), str(tmp / "deploy.git"), cwd=tmp)
    return tmp / "config.git", tmp / "deploy.git"


def _deployed(tmp: Path, target: Path) -> str:
    out = tmp / "check"
    if out.exists():
        sh("pull", "-q", cwd=out)
    else:
        sh("clone", "-q", str(target), str(out), cwd=tmp)
    return (out / "config" / "app.yaml").read_text()


def test_config_rollback_reuses_the_sync_engine(tmp_path: Path, make_chat) -> None:
    src, dst = _repos(tmp_path)
    chat = rollback_chat(make_chat, config_sync_config(src, dst))
    said = chat.command("U0ALICE", "/rollback api sev=3 impact=limited type=config to=v1.3.0 "
                                   "pool size 20 exhausts the database")
    assert "type=config asked -> config" in said.text
    dry = [m for m in chat.messages if m.rendered.startswith("Dry-run DR-")][-1]
    assert "db.pool: 20 -> 10" in dry.rendered
    assert _deployed(tmp_path, dst) == "db:\n  pool: 20\n"      # DR-04: nothing applied yet
    text = rb_message(chat).rendered
    assert "2. Plan — done" in text and "config sync api-config from v1.3.0" in text
    assert "3. Approve — running" in text
    chat.react("U0BOB", dry)
    assert _deployed(tmp_path, dst) == "db:\n  pool: 10\n"
    text = rb_message(chat).rendered
    assert "5. Execute — done" in text and "6. Verify & document — done" in text
    assert "*Status*: done" in text
    rec = verified(chat)
    assert [a["user"] for a in rec["approvals"]] == ["U0BOB"]
    assert rec["decision"]["approvals_required"] == 1     # the config sync's quorum
    [run] = rec["commands"]
    assert run["sync_log"].startswith("SL-") and run["result"] == "success"
    assert len(run["targets"][0]["sha_before"]) == 40
    assert run["targets"][0]["sha_after"] == sh("rev-parse", "main", cwd=dst).strip()
    said = chat.command("U0ALICE", "/rollback status RB-0001")
    assert "name: config sync" in said.text and "result: success" in said.text
    assert "user: U0BOB" in said.text
    # the product is locked: its syncs are refused, naming the rollback
    said = chat.command("U0ALICE", "/sync plan api-config")
    assert "frozen" in said.text and "RB-0001" in said.text


def test_config_rollback_needs_a_config_sync(make_chat) -> None:
    chat = rollback_chat(make_chat)
    said = chat.command("U0ALICE", "/rollback api sev=3 impact=limited type=config x")
    assert "api has no config_sync in rollback.products" in said.text
    said = chat.command("U0ALICE", "/rollback api sev=3 impact=limited type=config "
                                   "at=2026-11-24T22:00 x")
    assert "at= does not apply to a config rollback" in said.text
    said = chat.command("U0ALICE", "/rollback api sev=3 impact=limited type=blue x")
    assert "only type=config can be asked for" in said.text


def test_config_rollback_of_a_product_locked_by_an_earlier_rollback(tmp_path: Path,
                                                                    make_chat) -> None:
    src, dst = _repos(tmp_path)
    chat = rollback_chat(make_chat, config_sync_config(src, dst))
    chat.command("U0ALICE", "/rollback api sev=1 impact=widespread 500s after 1.4.0")
    assert chat.svc.locks.frozen("api").ref == "RB-0001"
    # the config is bad too: its own config sync may run into the locked product
    chat.command("U0ALICE", "/rollback api sev=3 impact=limited type=config to=v1.3.0 pool")
    dry = [m for m in chat.messages if m.rendered.startswith("Dry-run DR-")][-1]
    assert "frozen" not in rb_message(chat).rendered
    # let in as the child of the rollback holding the product's slot
    plan_id = dry.rendered.split()[1]
    parent = chat.svc.actions.get("rollback", "RB-0002")
    assert parent.exclusive == "rollback:api"
    assert [c.subject for c in chat.svc.actions.children(parent)] == [plan_id]
    # ...but nobody else's sync may
    assert "frozen by rollback RB-0001" in chat.command("U0BOB", "/sync plan api-config").text
    chat.react("U0BOB", dry)
    assert _deployed(tmp_path, dst) == "db:\n  pool: 10\n"
    assert "*Status*: done" in rb_message(chat).rendered
    assert chat.svc.locks.frozen("api").ref == "RB-0002"           # the lock passed on
    assert chat.audit("rollback.lock.handed_over")[0].payload["to"] == "RB-0002"


def test_a_sync_approved_after_the_lock_says_so_and_waits(tmp_path: Path, make_chat) -> None:
    src, dst = _repos(tmp_path)
    chat = rollback_chat(make_chat, config_sync_config(src, dst))
    chat.command("U0ALICE", "/sync plan api-config ref=v1.3.0")         # before the lock
    dry = [m for m in chat.messages if m.rendered.startswith("Dry-run DR-")][-1]
    chat.command("U0ALICE", "/rollback api sev=1 impact=widespread 500s after 1.4.0")
    chat.react("U0BOB", dry)                                            # after it
    assert _deployed(tmp_path, dst) == "db:\n  pool: 20\n"
    [said] = [m for m in chat.thread(dry) if "refused" in m.rendered]
    assert "api is frozen by rollback RB-0001" in said.rendered
    assert "The approval stands: `/sync apply" in said.rendered
    chat.command("U0ALICE", "/rollback resolve RB-0001 fixed")
    plan_id = dry.rendered.split()[1]
    chat.command("U0ALICE", f"/sync apply {plan_id}")
    assert _deployed(tmp_path, dst) == "db:\n  pool: 10\n"


def test_a_config_sync_interrupted_by_a_crash_stops_the_rollback(tmp_path: Path,
                                                                 make_chat) -> None:
    from datetime import timedelta

    src, dst = _repos(tmp_path)
    chat = rollback_chat(make_chat, config_sync_config(src, dst))
    chat.command("U0ALICE", "/rollback api sev=3 impact=limited type=config to=v1.3.0 pool")
    dry = [m for m in chat.messages if m.rendered.startswith("Dry-run DR-")][-1]
    plan_id = dry.rendered.split()[1]
    # the state a crash mid-apply leaves: the plan running, its target lease still held
    from bot.sync import flow as sync_flow
    assert chat.svc.actions.move("sync", plan_id, "running", only_from=("planned",))
    chat.svc.locks.acquire(f"sync-target:{dst}#main", f"{plan_id}:relbot",
                           timedelta(minutes=1), "sync api-config")
    chat = chat.restart()
    chat.run_due()
    assert sync_flow.store(chat.svc).get(plan_id).status == "running"   # lease still live
    chat.clock.advance(minutes=1, seconds=2)
    chat.run_due()
    assert sync_flow.store(chat.svc).get(plan_id).status == "failed"
    assert [m for m in chat.thread(dry) if "was interrupted" in m.rendered]
    text = rb_message(chat).rendered
    assert "*Status*: failed" in text and "interrupted: relbot stopped" in text
    chat.command("U0ALICE", "/rollback retry RB-0001")               # a new dry-run
    dry2 = [m for m in chat.messages if m.rendered.startswith("Dry-run DR-")][-1]
    chat.react("U0BOB", dry2)
    assert _deployed(tmp_path, dst) == "db:\n  pool: 10\n"
    assert "*Status*: done" in rb_message(chat).rendered
