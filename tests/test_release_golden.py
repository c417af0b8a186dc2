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
