"""Sync through signed Slack requests: plan, approvals by reaction, execute, stale, failures."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.cli import relbot
from tests.harness import BASE_CONFIG
from tests.test_sync_plan import make_remote, sh, tree_hash, write


def setup_repos(tmp: Path) -> tuple[Path, Path]:
    src = make_remote(tmp, "product", {"docs/a.md": "one\ntwo\n", "docs/b.md": "b\n"})
    dst = make_remote(tmp, "website", {"content/a.md": "one\n", "content/old.md": "x\n"})
    return src, dst


def config(src: Path, dst: Path, extra: str = "") -> str:
    return BASE_CONFIG + (
        f"syncs:\n  - name: docs\n    type: cross-repo\n"
        f"    source: {{repo: {src}, ref: main, path: docs/}}\n"
        f"    target: {{repo: {dst}, branch: main, path: content/}}\n"
        f"    options: {{delete: true}}\n{extra}")


def plan_msg(chat):
    return [m for m in chat.messages if m.rendered.startswith("Dry-run DR-")][-1]


def test_plan_approve_execute(tmp_path: Path, make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    before = tree_hash(dst)
    chat = make_chat(config(src, dst))
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    text = msg.rendered
    assert "1 added, 1 modified, 1 deleted, 0 renamed" in text
    assert "M a.md (+1 -0)" in text and "D old.md" in text
    assert "needs 2 more approvals" in text
    assert tree_hash(dst) == before  # DR-04
    assert chat.audit("sync.planned")
    chat.react("U0ALICE", msg)            # self-approval refused
    assert chat.audit("approval.refused")
    chat.react("U0MALLORY", msg)          # not an approver
    assert len(chat.audit("approval.refused")) == 2
    chat.react("U0BOB", msg)
    chat.react("U0BOB", msg)              # duplicate counted once
    assert len(chat.audit("approval.counted")) == 1
    assert "needs 1 more approval" in plan_msg(chat).rendered
    chat.unreact("U0BOB", msg)            # revocation
    assert "needs 2 more approvals" in plan_msg(chat).rendered
    chat.react("U0BOB", msg)
    assert "needs 1 more approval" in plan_msg(chat).rendered
    assert tree_hash(dst) == before


def test_execute_and_stale(tmp_path: Path, make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    cfg = config(src, dst, "    approval: {quorum: 1}\n")
    chat = make_chat(cfg)
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    chat.react("U0BOB", msg)
    thread = "\n".join(m.rendered for m in chat.thread(msg))
    assert "done: target now at" in thread, thread
    files = sh("ls-tree", "-r", "--name-only", "main", cwd=dst).split()
    assert files == ["content/a.md", "content/b.md"]
    log = sh("log", "-1", "--format=%B", "main", cwd=dst)
    assert "relbot-evidence: DR-" in log
    assert chat.audit("sync.success")
    said = chat.command("U0ALICE", "/sync log docs")
    assert "success" in said.text
    pid = msg.rendered.split()[1]
    r = relbot("sync", "log", pid, "--format", "yaml", "--db", str(chat.db_path))
    assert r.returncode == 0, r.stderr
    rec = yaml.safe_load(r.stdout)
    assert rec["sync_name"] == "docs" and rec["result"] == "success"
    assert rec["approvers"][0]["user"] == "U0BOB" and rec["dry_run_digest"]
    assert {c["path"] for c in rec["changes"]} == {"a.md", "b.md", "old.md"}
    # stale target: plan, then someone pushes to the target
    write(tmp_path / "product-work", {"docs/a.md": "changed\n"})
    sh("push", "-q", str(src), "HEAD:main", cwd=tmp_path / "product-work")
    chat.command("U0ALICE", "/sync plan docs")
    msg2 = plan_msg(chat)
    work = tmp_path / "w2"
    sh("clone", "-q", str(dst), str(work), cwd=tmp_path)
    write(work, {"other.txt": "x"})
    sh("push", "-q", "origin", "HEAD:main", cwd=work)
    head = sh("rev-parse", "main", cwd=dst).strip()
    chat.react("U0BOB", msg2)
    thread = "\n".join(m.rendered for m in chat.thread(msg2))
    assert "stale plan: target moved" in thread and "/sync plan docs" in thread
    assert sh("rev-parse", "main", cwd=dst).strip() == head


def test_push_rejected_leaves_target(tmp_path: Path, make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    hook = dst / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho nope >&2\nexit 1\n")
    hook.chmod(0o755)
    chat = make_chat(config(src, dst, "    approval: {quorum: 1}\n"))
    head = sh("rev-parse", "main", cwd=dst).strip()
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    chat.react("U0BOB", msg)
    thread = "\n".join(m.rendered for m in chat.thread(msg))
    assert "failed, target unchanged" in thread
    assert sh("rev-parse", "main", cwd=dst).strip() == head
    assert chat.svc.locks.holder(f"sync-target:{dst}#main") is None


def test_manual_apply_and_lock_conflict(tmp_path: Path, make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    extra = "    approval: {quorum: 1}\n    options: {delete: true, auto_apply: false}\n"
    cfg = config(src, dst).replace("    options: {delete: true}\n", "") + extra
    chat = make_chat(cfg)
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    pid = msg.rendered.split()[1]
    chat.react("U0BOB", msg)
    assert "/sync apply" in chat.thread(msg)[-1].rendered
    from datetime import timedelta
    chat.svc.locks.acquire(f"sync-target:{dst}#main", "DR-other:U0X", timedelta(minutes=5), "x")
    said = chat.command("U0BOB", f"/sync apply {pid}")
    assert "held by DR-other:U0X since" in said.text
    status = chat.command("U0BOB", f"/sync status {pid}")
    assert "held by DR-other:U0X" in status.text
    chat.svc.locks.release(f"sync-target:{dst}#main", "DR-other:U0X")
    said = chat.command("U0BOB", f"/sync apply {pid}")
    assert "success" in said.text
    out = subprocess.run(["git", "show", "main:content/b.md"], cwd=dst, capture_output=True,
                         text=True).stdout
    assert out == "b\n"


def test_cancel(tmp_path: Path, make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst))
    chat.command("U0ALICE", "/sync plan docs")
    pid = plan_msg(chat).rendered.split()[1]
    assert "only the requester" in chat.command("U0MALLORY", f"/sync cancel {pid}").text
    assert "cancelled" in chat.command("U0ALICE", f"/sync cancel {pid}").text
    assert "status: cancelled" in plan_msg(chat).rendered
