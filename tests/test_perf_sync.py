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
