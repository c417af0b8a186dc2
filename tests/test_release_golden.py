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
    row.checks["RL-01"] = CheckRow("RL-01", "pass", "U0CAROL", "2026-11-24T09:10:00Z")
    row.checks["RL-03"] = CheckRow("RL-03", "pass", "relbot", "2026-11-24T09:00:00Z")
    row.checks["RL-04"] = CheckRow("RL-04", "fail", "relbot", "2026-11-24T09:00:00Z")
    blockers = [("RL-04", "fail", "bump pyproject.toml then `/release check`"),
                ("RL-08", "pending", "anyone running `/release notes`")]
    text = blocks_to_text(release_blocks(row, blockers, "bi-weekly"))
    path = GOLDEN / "release-message.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    assert text + "\n" == path.read_text()
