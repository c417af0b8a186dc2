"""Long change lists, expiry, concurrent executions, golden summary."""

from __future__ import annotations

import threading
from pathlib import Path

from bot.errors import Refused, RelbotError
from bot.render.sync import summary_text
from bot.sync import flow
from bot.sync.plan import Change, Plan, TargetPlan
from tests.test_sync_flow import config, plan_msg, setup_repos
from tests.test_sync_plan import make_remote, sh

GOLDEN = Path(__file__).parent / "golden" / "sync"


def test_long_list_goes_to_thread_never_truncated(tmp_path: Path, make_chat) -> None:
    src = make_remote(tmp_path, "product", {f"docs/f{i:03}.md": f"{i}\n" for i in range(95)})
    dst = make_remote(tmp_path, "website", {"content/keep.txt": "k\n"})
    chat = make_chat(config(src, dst).replace("{delete: true}", "{delete: false}"))
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    assert "95 added" in msg.rendered and "55 more in the thread" in msg.rendered
    listed = msg.rendered + "\n".join(m.rendered for m in chat.thread(msg))
    assert all(f"A f{i:03}.md" in listed for i in range(95))


def test_expired_approval_refuses(tmp_path: Path, make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst, "    approval: {quorum: 1, expires: 1h}\n    options: "
                                      "{auto_apply: false}\n").replace(
        "    options: {delete: true}\n", ""))
    chat.command("U0ALICE", "/sync plan docs")
    pid = plan_msg(chat).rendered.split()[1]
    chat.clock.advance(hours=2)
    said = chat.command("U0ALICE", f"/sync apply {pid}")
    assert "expired" in said.text
    flow.expire_job(chat.svc, pid)  # what the scheduled expiry job runs
    assert "status: expired" in plan_msg(chat).rendered


def test_concurrent_executions_one_wins(tmp_path: Path, make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    cfg = config(src, dst, "    approval: {quorum: 1}\n    options: {auto_apply: false}\n")
    chat = make_chat(cfg.replace("    options: {delete: true}\n", ""))
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    pid = msg.rendered.split()[1]
    chat.react("U0BOB", msg)
    results: list[str] = []

    def run() -> None:
        try:
            results.append(flow.execute(chat.svc, pid, "U0BOB"))
        except (Refused, RelbotError) as exc:
            results.append(f"refused: {exc}")
    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("success") == 1, results
    log = sh("log", "--format=%s", "main", cwd=dst).splitlines()
    assert len(log) == 2  # the initial commit + exactly one sync commit


def test_summary_golden() -> None:
    plan = Plan(sync="docs", type="config", source_repo="/srv/product.git", source_ref="main",
                source_sha="a" * 40, targets=[TargetPlan(
                    repo="/srv/website.git", branch="main", path="content/", sha="b" * 40,
                    changes=[Change(status="M", path="app.yml", added=1, removed=1,
                                    keys=["db.pool: 10 -> 20"]),
                             Change(status="A", path="logo.png", binary=True),
                             Change(status="R", path="new.md", old_path="old.md"),
                             Change(status="D", path="gone.md", removed=3)])],
                digest="c" * 64, id="DR-20261125-abc123")
    text, rest = summary_text(plan, 40)
    assert rest == []
    assert text + "\n" == (GOLDEN / "summary.txt").read_text()


def test_stale_source_refused(tmp_path: Path, make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst, "    approval: {quorum: 1}\n"))
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    from tests.test_sync_plan import write
    write(tmp_path / "product-work", {"docs/a.md": "newer\n"})
    sh("push", "-q", str(src), "HEAD:main", cwd=tmp_path / "product-work")
    head = sh("rev-parse", "main", cwd=dst).strip()
    chat.react("U0BOB", msg)
    thread = "\n".join(m.rendered for m in chat.thread(msg))
    assert "stale plan: source moved" in thread
    assert sh("rev-parse", "main", cwd=dst).strip() == head


def _plain_dirs(tmp_path: Path) -> str:
    """Config for a quorum-1 sync between plain directories s/ -> t/ (s/a.txt = "new")."""
    (tmp_path / "s").mkdir()
    (tmp_path / "t").mkdir()
    (tmp_path / "s" / "a.txt").write_text("new\n")
    return (config(tmp_path / "s", tmp_path / "t", "    approval: {quorum: 1}\n")
            .replace("ref: main, path: docs/", "path: ''")
            .replace("branch: main, path: content/", "path: ''"))


def test_plain_directory_execution(tmp_path: Path, make_chat) -> None:
    chat = make_chat(_plain_dirs(tmp_path))
    (tmp_path / "t" / "a.txt").write_text("old\n")
    (tmp_path / "t" / "extra.txt").write_text("x\n")
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    assert "M a.txt (+1 -1)" in msg.rendered and "D extra.txt" in msg.rendered
    chat.react("U0BOB", msg)
    assert (tmp_path / "t" / "a.txt").read_text() == "new\n"
    assert not (tmp_path / "t" / "extra.txt").exists()


def test_plain_directory_target_changed_is_stale(tmp_path: Path, make_chat) -> None:
    chat = make_chat(_plain_dirs(tmp_path))
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    (tmp_path / "t" / "manual.txt").write_text("someone edited\n")
    chat.react("U0BOB", msg)
    assert "stale plan: target moved" in chat.thread(msg)[-1].rendered
    assert not (tmp_path / "t" / "a.txt").exists()
