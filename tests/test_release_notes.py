"""Notes grouping and check decisions on real repos."""

from __future__ import annotations

from pathlib import Path

from bot.release import checks as ck
from bot.release import notes as nt
from bot.release import version as vs
from tests.test_release_fixtures import make_repo


def test_notes_grouping(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, msgs=("feat(ui): dark mode", "fix: crash", "perf: faster load",
                                     "feat!: drop v1 API", "chore: deps", "docs: guide"))
    groups = nt.group(vs.commits(repo, "v1.2.0"))
    assert [c.title for c in groups["Features"]] == ["dark mode"]
    assert [c.title for c in groups["Fixes"]] == ["crash"]
    assert [c.title for c in groups["Improvements"]] == ["faster load", "guide"]
    assert [c.title for c in groups["Breaking Changes"]] == ["drop v1 API"]
    assert [c.title for c in groups["Highlights"]] == ["drop v1 API", "dark mode"]
    md = nt.markdown("api", "2.0.0", groups)
    assert md.index("## Highlights") < md.index("## Features") < md.index("## Breaking Changes")
    assert "deps" not in md


def test_command_check_timeout_and_missing(tmp_path: Path) -> None:
    ok, ev = ck.run_command(("sleep", "5"), tmp_path, 0.2)
    assert not ok and "timed out" in ev
    ok, ev = ck.run_command(("no-such-tool-xyz",), tmp_path, 5)
    assert not ok and "command not found" in ev


def test_builtin_decisions() -> None:
    log = "# Changelog\n\n## [1.4.0] - 2026-11-24\n"
    ver = 'version = "1.4.0-rc.1"\n'
    assert ck.changelog_has(log, "CHANGELOG.md", "1.4.0")[0]
    assert not ck.changelog_has(log, "CHANGELOG.md", "1.4.1")[0]
    assert not ck.changelog_has(None, "CHANGELOG.md", "1.4.0")[0]
    assert not ck.version_file_has(ver, "pyproject.toml", "1.4.0")[0]
    assert ck.version_file_has(ver, "pyproject.toml", "1.4.0-rc.1")[0]
    assert ck.initial("minor")["RL-07"] == "n/a" and ck.initial("major")["RL-07"] == "pending"
