"""Sync costs follow the change: line counts from git, large files flagged, no checkout."""

from __future__ import annotations

from pathlib import Path

from bot.render.sync import change_line
from bot.sync.plan import build_plan
from tests.test_sync_plan import make_remote, sd


def test_line_counts_come_from_git_and_large_files_are_flagged(tmp_path: Path) -> None:
    old = "".join(f"line {i}\n" for i in range(8000))
    new = "".join(f"line {i}{' changed' if i % 10 == 0 else ''}\n" for i in range(8000))
    big = b"x\n" * (3 * 1024 * 1024)  # 6 MiB: over the large-file threshold
    src = make_remote(tmp_path, "product", {"lock.json": new, "big.txt": big + b"y\n",
                                            "added.txt": "a\nb\nc"})
    dst = make_remote(tmp_path, "website", {"lock.json": old, "big.txt": big, "gone.txt": "1\n2\n"})
    d = sd(source={"repo": str(src), "ref": "main"}, target={"repo": str(dst), "branch": "main"},
           options={"delete": True})
    plan = build_plan(d, tmp_path, tmp_path / "cache")
    lines = {c.path: change_line(c) for c in plan.targets[0].changes}
    assert lines == {"lock.json": "M lock.json (+800 -800)",
                     "big.txt": "M big.txt (large file, not diffed)",
                     "added.txt": "A added.txt (+3 -0)",
                     "gone.txt": "D gone.txt (+0 -2)"}


def test_plain_directory_counts_lines_through_git_too(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "t").mkdir()
    (tmp_path / "s" / "a.txt").write_text("1\n2\n3\n")
    (tmp_path / "t" / "a.txt").write_text("1\nX\n3\n4\n")
    d = sd(source={"repo": str(tmp_path / "s")}, target={"repo": str(tmp_path / "t")})
    plan = build_plan(d, tmp_path, tmp_path / "cache")
    assert [change_line(c) for c in plan.targets[0].changes] == ["M a.txt (+1 -2)"]


def _two_targets(tmp_path: Path) -> tuple[Path, Path, Path, str]:
    from tests.harness import BASE_CONFIG
    src = make_remote(tmp_path, "product", {"docs/a.md": "new\n", "docs/b.md": "b\n"})
    one = make_remote(tmp_path, "site-one", {"a.md": "old\n"})
    two = make_remote(tmp_path, "site-two", {"a.md": "old\n"})
    hook = two / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'site-two is closed for pushes' >&2\n"
                    "echo 'ask #site-two' >&2\nexit 1\n")
    hook.chmod(0o755)
    cfg = BASE_CONFIG + (
        "syncs:\n  - name: docs\n    type: downstream\n"
        f"    source: {{repo: {src}, ref: main, path: docs/}}\n"
        f"    targets:\n      - {{repo: {one}, branch: main}}\n"
        f"      - {{repo: {two}, branch: main}}\n"
        "    approval: {quorum: 1}\n")
    return src, one, two, cfg


def test_second_push_rejected_is_partially_applied_and_retry_runs_only_it(
        tmp_path: Path, make_chat) -> None:
    from tests.test_sync_flow import plan_msg
    from tests.test_sync_plan import sh
    _src, one, two, cfg = _two_targets(tmp_path)
    one_before = sh("rev-parse", "main", cwd=one).strip()
    two_before = sh("rev-parse", "main", cwd=two).strip()
    chat = make_chat(cfg)
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    pid = msg.rendered.split()[1]
    chat.react("U0BOB", msg)
    said = chat.thread(msg)[-1].rendered
    one_now = sh("rev-parse", "main", cwd=one).strip()
    assert one_now != one_before                      # the first target got the commit
    assert sh("rev-parse", "main", cwd=two).strip() == two_before
    assert "failed, target unchanged" not in said
    assert f"Sync {pid} partially applied: 1 of 2 targets moved" in said
    assert f"{one} main: now at {one_now[:12]} (was {one_before[:12]})" in said
    assert f"{two} main: failed, unchanged at {two_before[:12]}" in said
    assert "site-two is closed for pushes" in said and "ask #site-two" in said  # full stderr
    assert "status: partially-applied" in plan_msg(chat).rendered
    status = chat.command("U0BOB", f"/sync status {pid}").text
    assert f"target {one} main: now at {one_now[:12]}" in status
    assert f"target {two} main: failed - " in status and "ask #site-two" in status
    assert f"`/sync retry {pid}` runs the failed targets again" in status
    [entry] = chat.audit("sync.partially-applied")
    assert [t["status"] for t in entry.payload["targets"]] == ["moved", "failed"]
    # the hook is lifted: retry pushes only the failed target, the first is left alone
    (two / "hooks" / "pre-receive").unlink()
    said = chat.command("U0BOB", f"/sync retry {pid}")
    assert "success" in said.text, said.text
    assert sh("rev-parse", "main", cwd=one).strip() == one_now
    assert sh("log", "-1", "--format=%B", "main", cwd=two).count(f"relbot-evidence: {pid}") == 1
    assert sh("show", "main:a.md", cwd=two) == "new\n"
    assert f"Sync {pid} done" in chat.thread(msg)[-1].rendered
    assert f"{pid} is done" in chat.command("U0BOB", f"/sync retry {pid}").text


def test_retry_rechecks_freshness(tmp_path: Path, make_chat) -> None:
    from tests.test_sync_flow import plan_msg
    from tests.test_sync_plan import sh, write
    _src, one, two, cfg = _two_targets(tmp_path)
    chat = make_chat(cfg)
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    pid = msg.rendered.split()[1]
    chat.react("U0BOB", msg)
    (two / "hooks" / "pre-receive").unlink()
    work = tmp_path / "w2"
    sh("clone", "-q", str(two), str(work), cwd=tmp_path)
    write(work, {"other.txt": "x"})
    sh("push", "-q", "origin", "HEAD:main", cwd=work)
    head = sh("rev-parse", "main", cwd=two).strip()
    said = chat.command("U0BOB", f"/sync retry {pid}")
    assert "stale plan: target moved" in said.text
    assert sh("rev-parse", "main", cwd=two).strip() == head
    assert "status: partially-applied" in plan_msg(chat).rendered
    assert "no target changed by it" in chat.thread(msg)[-1].rendered


def test_commit_built_in_a_temporary_index_keeps_modes_and_untouched_files(
        tmp_path: Path, make_chat) -> None:
    from tests.test_sync_flow import config, plan_msg
    from tests.test_sync_plan import sh
    src = make_remote(tmp_path, "product", {"docs/run.sh": "#!/bin/sh\n", "docs/a.md": "a\n"})
    work = tmp_path / "product-work"
    (work / "docs" / "run.sh").chmod(0o755)
    sh("commit", "-qam", "exec", cwd=work)
    sh("push", "-q", str(src), "HEAD:main", cwd=work)
    dst = make_remote(tmp_path, "website", {"content/a.md": "old\n", "other/keep.txt": "k\n"})
    before = sh("rev-parse", "main", cwd=dst).strip()
    chat = make_chat(config(src, dst, "    approval: {quorum: 1}\n"))
    chat.command("U0ALICE", "/sync plan docs")
    chat.react("U0BOB", plan_msg(chat))
    tree = sh("ls-tree", "-r", "main", cwd=dst)
    assert "100755 blob" in next(x for x in tree.splitlines() if x.endswith("content/run.sh"))
    assert sh("show", "main:other/keep.txt", cwd=dst) == "k\n"
    assert sh("show", "main:content/a.md", cwd=dst) == "a\n"
    assert sh("rev-parse", "main^", cwd=dst).strip() == before  # one commit on the planned head
    assert "relbot-evidence: DR-" in sh("log", "-1", "--format=%B", "main", cwd=dst)


def test_large_change_list_is_one_uploaded_file_hashed_into_the_evidence(
        tmp_path: Path, make_chat) -> None:
    import hashlib

    from tests.test_sync_flow import config, plan_msg
    src = make_remote(tmp_path, "product", {f"docs/f{i:03}.md": f"{i}\n" for i in range(300)})
    dst = make_remote(tmp_path, "website", {"content/keep.txt": "k\n"})
    chat = make_chat(config(src, dst, "    approval: {quorum: 1}\n")
                     .replace("{delete: true}", "{delete: false}"))
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    pid = msg.rendered.split()[1]
    assert f"... 260 more: every change is in the file {pid}-changes.txt in the thread" \
        in msg.rendered
    assert "A f039.md" in msg.rendered and "A f040.md" not in msg.rendered  # first 40 inline
    [upload] = chat.api.calls("files.getUploadURLExternal")
    assert upload.params["filename"] == f"{pid}-changes.txt"
    [done] = chat.api.calls("files.completeUploadExternal")
    assert done.params["thread_ts"] == msg.ts
    [file_msg] = [m for m in chat.thread(msg) if m.kind == "file"]
    content = file_msg.attachments[0]["content"]
    assert all(f"A f{i:03}.md (+1 -0)" in content for i in range(300))   # DR-03: all of them
    assert len(chat.api.calls("chat.postMessage")) == 1                  # no per-40 messages
    [planned] = chat.audit("sync.planned")
    digest = hashlib.sha256(content.encode()).hexdigest()
    assert planned.payload["change_list"] == {"file": f"{pid}-changes.txt", "sha256": digest,
                                              "changes": 300}
    assert digest in file_msg.rendered
    chat.react("U0BOB", msg)
    from bot.sync import flow
    [log] = flow.store(chat.svc).logs(pid)
    assert log["change_list"]["sha256"] == digest and log["result"] == "success"


def test_refused_upload_falls_back_to_thread_messages(tmp_path: Path, make_chat) -> None:
    from tests.test_sync_flow import config, plan_msg
    src = make_remote(tmp_path, "product", {f"docs/f{i:03}.md": f"{i}\n" for i in range(300)})
    dst = make_remote(tmp_path, "website", {"content/keep.txt": "k\n"})
    chat = make_chat(config(src, dst).replace("{delete: true}", "{delete: false}"))
    chat.api.state.faults.fail("files.getUploadURLExternal", 200, error="missing_scope")
    chat.command("U0ALICE", "/sync plan docs")
    msg = plan_msg(chat)
    thread = chat.thread(msg)
    assert "Could not upload" in thread[0].rendered
    assert "every change follows in this thread instead" in thread[0].rendered
    listed = "\n".join(m.rendered for m in thread)
    assert all(f"A f{i:03}.md" in listed for i in range(300))     # DR-03 still holds
    assert "needs 2 more approvals" in plan_msg(chat).rendered    # the plan is open as usual
