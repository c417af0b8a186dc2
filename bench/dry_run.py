"""Benchmark: `relbot sync plan` vs `git diff --stat` on 50,000 files with 200 changed.

Usage: python bench/dry_run.py [--files 50000] [--changed 200]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def fast_import(repo: Path, files: int, changed: int) -> None:
    """Two commits on main (target) and src (source) written with git fast-import."""
    lines: list[bytes] = []

    def commit(branch: str, mark_from: str | None, body: list[bytes]) -> None:
        lines.append(f"commit refs/heads/{branch}\n".encode())
        lines.append(b"committer bench <b@x> 1700000000 +0000\ndata 5\nbench\n")
        if mark_from:
            lines.append(f"from {mark_from}\n".encode())
        lines.extend(body)
        lines.append(b"\n")

    def blob_line(path: str, data: bytes) -> bytes:
        return f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n"

    base = [blob_line(f"d{i // 500}/f{i}.txt", f"file {i}\nline two\n".encode())
            for i in range(files)]
    commit("main", None, base)
    step = max(1, files // changed)
    mod = [blob_line(f"d{i // 500}/f{i}.txt", f"file {i} changed\nline two\n".encode())
           for i in range(0, step * changed, step)]
    commit("src", "refs/heads/main", mod)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=b"".join(lines),
                   check=True)


def timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - t, p


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=50000)
    ap.add_argument("--changed", type=int, default=200)
    a = ap.parse_args()
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        src = t / "product.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(src)], check=True)
        fast_import(src, a.files, a.changed)
        dst = t / "website.git"
        subprocess.run(["git", "clone", "-q", "--bare", "--single-branch", "-b", "main",
                        str(src), str(dst)], check=True)
        cfg = t / "relbot.yml"
        cfg.write_text("channel: C0BENCH\nsyncs:\n  - {name: big, type: cross-repo, "
                       f"source: {{repo: {src}, ref: src}}, target: {{repo: {dst}, "
                       "branch: main}}\n")
        plan = [sys.executable, "-m", "bot", "sync", "plan", "big", "--config", str(cfg),
                "--cache", str(t / "cache")]
        cold, p = timed(plan, root)
        assert p.returncode == 1, p.stderr
        assert f"0 added, {a.changed} modified" in p.stdout, p.stdout[:500]
        warm, p = timed(plan, root)
        gitt, g = timed(["git", "diff", "--stat", "main", "src"], src)
        sys.path.insert(0, str(root))
        from bot.config import load_config
        from bot.sync.plan import build_plan
        c = load_config(cfg)
        build_plan(c.syncs[0], c.base_dir, t / "cache")
        t0 = time.perf_counter()
        inproc = build_plan(c.syncs[0], c.base_dir, t / "cache")
        core = time.perf_counter() - t0
        assert inproc.counts()["M"] == a.changed
        boot, _ = timed([sys.executable, "-c", "import bot.cli"], root)
        assert g.returncode == 0
        print(f"files={a.files} changed={a.changed}")
        print(f"relbot sync plan (first run, fetch into cache): {cold:.3f}s")
        print(f"relbot sync plan (warm cache):                  {warm:.3f}s")
        print(f"git diff --stat:                                {gitt:.3f}s")
        print(f"build_plan in-process (warm cache):             {core:.3f}s")
        print(f"python interpreter + bot.cli import alone:      {boot:.3f}s")
        print(f"ratio warm/git: {warm / gitt:.2f}x; in-process/git: {core / gitt:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
