"""Golden file for the release message (UPDATE_GOLDEN=1 to refresh)."""

from __future__ import annotations

import os
from pathlib import Path

from bot.release.checks import initial
from bot.render.common import blocks_to_text
from bot.render.release import release_blocks
from storage.release import CheckRow, ReleaseRow

GOLDEN = Path(__file__).parent / "golden" / "release"


def test_release_message_golden() -> None:
    row = ReleaseRow(1, "api", "1.4.0", "minor", "RC", "active", "U0ALICE", "a" * 40,
                     "C0RELEASES", "1.0", {"Feature Freeze": "2026-11-24T09:00:00Z"}, "", "")
    for cid, res in initial("minor").items():
        row.checks[cid] = CheckRow(cid, res)
    sha = "a" * 40
    row.checks["RL-01"] = CheckRow("RL-01", "pass", "U0CAROL", "2026-11-24T09:10:00Z",
                                   "confirmed in Slack", 3, sha)
    row.checks["RL-02"] = CheckRow("RL-02", "fail", "relbot", "2026-11-24T09:00:00Z",
                                   "exit 3: gate red\nmore output", 4, sha)
    row.checks["RL-03"] = CheckRow("RL-03", "pass", "relbot", "2026-11-24T09:00:00Z",
                                   "CHANGELOG.md:3: ## 1.4.0", 5, sha)
    row.checks["RL-04"] = CheckRow("RL-04", "fail", "relbot", "2026-11-24T09:00:00Z",
                                   "pyproject.toml does not contain 1.4.0", 6, sha)
    blockers = [("RL-04", "fail", "bump pyproject.toml then `/release check`"),
                ("RL-08", "pending", "anyone running `/release notes`")]
    manual = {"RL-01", "RL-05", "RL-06", "RL-07"}     # RL-02 is a command: no Confirm button
    text = blocks_to_text(release_blocks(row, blockers, "bi-weekly", manual=manual))
    path = GOLDEN / "release-message.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    assert text + "\n" == path.read_text()


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_release_notes_golden() -> None:
    from bot.release import notes as nt
    from bot.release.version import Commit

    commits = [
        Commit("1" * 40, "Ada", "feat(ui): dark mode"),
        Commit("2" * 40, "Bo", "fix: crash on empty input"),
        Commit("3" * 40, "Cy", "feat!: drop the v1 API"),
        Commit("4" * 40, "Di", "fix(config): rename key",
               "BREAKING CHANGE: `db.pool` is now `db.pool_size`;\nrename it in relbot.yml."),
        Commit("5" * 40, "Ed", "chore: bump deps"),
        Commit("6" * 40, "Fa", "Merge branch 'hotfix'"),
        Commit("7" * 40, "Gu", "perf: cache calendar", "Labels: highlight"),
    ]
    groups = nt.group(commits, highlight_scopes=("ui",), highlight_labels=("highlight",))
    _golden("notes.md", nt.markdown("api", "2.0.0", groups))
    _golden("notes.yaml", nt.structured("api", "2.0.0", "v1.4.0", "8" * 40, groups,
                                        "2026-11-24T09:00:00Z"))


def test_released_message_golden() -> None:
    row = ReleaseRow(2, "api", "2.0.0", "major", "Post-Release", "active", "U0ALICE", "b" * 40,
                     "C0RELEASES", "2.0", {"Feature Freeze": "2026-11-24T09:00:00Z"}, "d" * 64,
                     "", tag_name="v2.0.0", tag_object="c" * 40, tag_remote="origin",
                     start_reason="CVE fix needs the API break")
    for cid, res in initial("major").items():
        row.checks[cid] = CheckRow(cid, "waived" if res == "pending" else res, "U0BOB",
                                   "2026-11-24T09:10:00Z", "waived: drill on staging", 1,
                                   "b" * 40)
    warn = ["1 feat: commit(s) merged into api since the freeze (aaaaaaa) break the only-fixes "
            "rule: 1234567 feat: sneaky"]
    text = blocks_to_text(release_blocks(row, [], "quarterly", manual=set(), warnings=warn))
    _golden("release-tagged.txt", text + "\n")
