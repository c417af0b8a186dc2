"""Benchmark: `relbot sync plan` vs `git diff --stat` on 50,000 files with 200 changed.

Usage: python bench/dry_run.py [--files 50000] [--changed 200] [--big-file 8000]

The floor, measured in the same run, is what any dry-run must do: a fresh bare cache, one
fetch each of source and target, then ``git diff --stat`` (or ``--numstat`` for the big file)
between them. relbot's figure is ``build_plan`` in-process with a fresh cache (the CLI run
minus interpreter start-up and imports). ``--big-file N`` adds a second pair of repos whose
only change is one N-line file with every 10th line modified.
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


def big_file_pair(t: Path, lines: int) -> tuple[Path, Path]:
    """A source and a target that differ in one ``lines``-line file (every 10th line)."""
    src = t / "big-src.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(src)], check=True)
    old = "".join(f"dependency {i}: version 1.{i}\n" for i in range(lines)).encode()
    new = "".join(f"dependency {i}: version {'2' if i % 10 == 0 else '1'}.{i}\n"
                  for i in range(lines)).encode()
    cmds = b""
    for branch, data, parent in ((b"main", old, b""), (b"src", new, b"from refs/heads/main\n")):
        cmds += (b"commit refs/heads/" + branch + b"\ncommitter b <b@x> 1700000000 +0000\n"
                 b"data 1\nx\n" + parent + b"M 100644 inline package-lock.json\ndata "
                 + str(len(data)).encode() + b"\n" + data + b"\n\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=src, input=cmds, check=True)
    dst = t / "big-dst.git"
    subprocess.run(["git", "clone", "-q", "--bare", "-b", "main", str(src), str(dst)], check=True)
    return src, dst


def floor(t: Path, src: Path, dst: Path, stat: str) -> float:
    """Fresh bare cache, fetch source and target, ``git diff <stat>`` between them."""
    cache = t / f"floor-{time.monotonic_ns()}"
    t0 = time.perf_counter()
    subprocess.run(["git", "init", "-q", "--bare", str(cache)], check=True)
    for url, ref, local in ((src, "src", "s"), (dst, "main", "d")):
        subprocess.run(["git", "fetch", "-q", "--no-tags", str(url), f"+{ref}:refs/f/{local}"],
                       cwd=cache, check=True)
    subprocess.run(["git", "diff", stat, "refs/f/d", "refs/f/s"], cwd=cache, check=True,
                   capture_output=True)
    return time.perf_counter() - t0


def cold_plan(t: Path, sd: object, base: Path) -> tuple[float, object]:
    from bot.sync.plan import build_plan
    t0 = time.perf_counter()
    plan = build_plan(sd, base, t / f"cache-{time.monotonic_ns()}")  # type: ignore[arg-type]
    return time.perf_counter() - t0, plan


def timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - t, p


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=50000)
    ap.add_argument("--changed", type=int, default=200)
    ap.add_argument("--big-file", type=int, default=8000)
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
        fl = min(floor(t, src, dst, "--stat") for _ in range(3))
        cold = min(cold_plan(t, c.syncs[0], c.base_dir)[0] for _ in range(3))
        print(f"fresh cache: build_plan {cold:.3f}s vs floor (init + 2 fetches + diff --stat) "
              f"{fl:.3f}s = {cold / fl:.2f}x (target <= 1.5x)")
        if a.big_file:
            bsrc, bdst = big_file_pair(t, a.big_file)
            from bot.sync.config import SyncDef
            bsd = SyncDef.model_validate({"name": "lock", "type": "cross-repo",
                                          "source": {"repo": str(bsrc), "ref": "src"},
                                          "target": {"repo": str(bdst), "branch": "main"}})
            bfl = min(floor(t, bsrc, bdst, "--numstat") for _ in range(3))
            runs = [cold_plan(t, bsd, t) for _ in range(3)]
            bcold = min(r[0] for r in runs)
            ch = runs[0][1].targets[0].changes[0]  # type: ignore[attr-defined]
            print(f"one changed {a.big_file}-line file ({ch.status} +{ch.added} -{ch.removed}): "
                  f"build_plan {bcold:.3f}s vs floor (init + 2 fetches + diff --numstat) "
                  f"{bfl:.3f}s = {bcold / bfl:.2f}x (target <= 2x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
