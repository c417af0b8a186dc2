"""Two release actions at once: the release message Slack keeps shows both."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.test_release_fixtures import commit, config, make_repo


def test_concurrent_waivers_both_show_in_the_release_message(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: b",))
    commit(repo, "chore: bump", {"pyproject.toml": 'version = "1.3.0"'})
    chat = make_chat(config(repo))
    chat.command("U0ALICE", "/release start api")
    [msg] = [m for m in chat.messages if m.thread_ts is None and "1.3.0" in m.rendered]
    gate = threading.Barrier(2)

    def waive(user: str, check: str) -> None:
        gate.wait()
        chat.sender.command(user, f"/release waive {check} covered elsewhere")

    ts = [threading.Thread(target=waive, args=a) for a in (("U0BOB", "RL-01"),
                                                          ("U0CAROL", "RL-02"))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    chat.local.wait_idle()
    row = chat.svc.releases.find("api", "1.3.0")
    assert (row.checks["RL-01"].result, row.checks["RL-02"].result) == ("waived", "waived")
    # the message as Slack has it last (the latest chat.update) renders the committed state
    shown = chat.api.state.message(msg.number).rendered
    assert shown.count("waived") >= 2, shown
