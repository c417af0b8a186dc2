"""Sync execution: from the quorum vote to the pushed commit, beside the temporary-index floor.

    python bench/execute.py [--files 50000] [--changed 200] [--with-clone]

A generated target (git fast-import) of ``--files`` files and a source differing in
``--changed`` of them, both bare repos on local disk. relbot runs in-process against the
built-in Slack stand-in: ``/sync plan`` (not timed), then the quorum reaction goes in as a
signed ``reaction_added`` and the clock runs until the bot has pushed (the thread says
"done"). The floor, in the same run, makes the same commit by hand with plain git in the
same cache: a temporary index, ``read-tree``, ``update-index --index-info`` of the changed
paths, ``write-tree``, ``commit-tree``, ``push``. ``--with-clone`` also times the old way
(clone, check out, write the files, commit, push). The issue's figure used 200,000 files;
the default is 50,000 to keep the run short (the relbot and floor figures do not grow with
the file count, the clone does).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dry_run import fast_import  # noqa: E402

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@x",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@x"}


def git(*args: str, cwd: Path, input: str | None = None, env: dict | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, text=True,
                          check=True, env={**GIT_ENV, **(env or {})}).stdout


def repos(tmp: Path, files: int, changed: int) -> tuple[Path, Path]:
    src = tmp / "product.git"
    git("init", "-q", "--bare", "-b", "main", str(src), cwd=tmp)
    fast_import(src, files, changed)
    dst = tmp / "website.git"
    git("clone", "-q", "--bare", "--single-branch", "-b", "main", str(src), str(dst), cwd=tmp)
    return src, dst


def floor(cache: Path, dst: Path, branch_sha: str, changes: list[tuple[str, str]]) -> float:
    """The same commit with plain git in the cache (temporary index), pushed to a copy."""
    target = cache.parent / "floor-target.git"
    git("clone", "-q", "--bare", str(dst), str(target), cwd=cache.parent)
    t0 = time.perf_counter()
    env = {"GIT_INDEX_FILE": str(cache / "floor-index")}
    git("read-tree", branch_sha, cwd=cache, env=env)
    git("update-index", "-z", "--index-info", cwd=cache, env=env,
        input="".join(f"100644 {oid}\t{path}\0" for path, oid in changes))
    tree = git("write-tree", cwd=cache, env=env).strip()
    new = git("commit-tree", tree, "-p", branch_sha, "-m", "floor", cwd=cache).strip()
    t1 = time.perf_counter()
    git("push", "-q", str(target), f"{new}:refs/heads/main", cwd=cache)
    secs = time.perf_counter() - t0
    print(f"  (floor: commit {t1 - t0:.3f} s, push {secs - (t1 - t0):.3f} s)")
    os.unlink(cache / "floor-index")
    return secs


def with_clone(tmp: Path, dst: Path, changes: list[tuple[str, str]], src: Path) -> float:
    """The old way: clone and check out the whole target, write, commit, push."""
    target = tmp / "clone-target.git"
    git("clone", "-q", "--bare", str(dst), str(target), cwd=tmp)
    t0 = time.perf_counter()
    work = tmp / "clone-work"
    git("clone", "-q", "--branch", "main", "--single-branch", str(target), str(work), cwd=tmp)
    for path, oid in changes:
        data = subprocess.run(["git", "cat-file", "blob", oid], cwd=src, capture_output=True,
                              check=True).stdout
        (work / path).write_bytes(data)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "clone", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    return time.perf_counter() - t0


def relbot(tmp: Path, src: Path, dst: Path) -> tuple[float, Path, str]:
    """Seconds from the quorum reaction to the push; the cache and the planned target SHA."""
    from bot.config import ConfigHolder, load_config
    from bot.standin.local import LocalSlack

    cfg = tmp / "relbot.yml"
    cfg.write_text("channel: C0BENCH\napprovers: [U0BOB]\napproval: {quorum: 1}\nsyncs:\n"
                   f"  - {{name: big, type: cross-repo, source: {{repo: {src}, ref: src}}, "
                   f"target: {{repo: {dst}, branch: main}}}}\n")
    local = LocalSlack(ConfigHolder(load_config(cfg), cfg), tmp / "relbot.db", real_time=False)
    try:
        local.sender.command("U0ALICE", "/sync plan big")
        local.wait_idle()
        plan = next(m for m in local.api.state.messages if m.text.startswith("Dry-run DR-"))
        before = git("rev-parse", "main", cwd=dst).strip()
        t0 = time.perf_counter()
        local.sender.react("U0BOB", plan, "white_check_mark")
        local.wait_idle()
        secs = time.perf_counter() - t0
        after = git("rev-parse", "main", cwd=dst).strip()
        if after == before:
            said = [m.text for m in local.api.state.messages][-3:]
            raise SystemExit(f"relbot did not push: {said}")
        return secs, local.svc.data_dir / "sync-cache" / "big", before
    finally:
        local.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=50_000)
    ap.add_argument("--changed", type=int, default=200)
    ap.add_argument("--with-clone", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="relbot-bench-") as tmp_name:
        tmp = Path(tmp_name)
        src, dst = repos(tmp, args.files, args.changed)
        diff = git("diff-tree", "-r", "main", "src", cwd=src)
        changes = [(ln.split("\t")[1], ln.split()[3]) for ln in diff.splitlines()]
        copy = tmp / "relbot-target.git"
        git("clone", "-q", "--bare", str(dst), str(copy), cwd=tmp)
        secs, cache, base = relbot(tmp, src, copy)
        fl = floor(cache, dst, base, changes)
        print(f"files={args.files} changed={len(changes)} (cpus: {os.cpu_count()})")
        print(f"relbot, quorum vote -> pushed:      {secs:7.3f} s")
        print(f"floor, temporary index + push:      {fl:7.3f} s")
        if args.with_clone:
            old = with_clone(tmp, dst, changes, src)
            print(f"old way, clone + checkout + push:   {old:7.3f} s")
        print(f"ratio relbot/floor {secs / fl:.2f}x   target <= 3x: "
              f"{'MET' if secs / fl <= 3 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
