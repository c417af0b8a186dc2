"""Two ``relbot run`` replicas on one PostgreSQL database; one is killed with SIGKILL in the
middle of a sync (its push hangs in the target's pre-receive hook). The other replica finds
the sync left running once the target lease lapses and finishes it as interrupted, exactly
once; nothing is pushed, and the survivor keeps serving."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.standin.dispatcher import SlackSender
from bot.standin.webapi import FakeSlackAPI
from storage.audit import AuditLog
from storage.db import Database
from tests.cli import relbot
from tests.harness import BASE_CONFIG
from tests.test_foundation_run import SECRET, _env
from tests.test_socket_mode import wait_for
from tests.test_sync_flow import setup_repos
from tests.test_sync_plan import sh

HOOK = """#!/bin/sh
touch "{marker}"
sleep 120
"""


class HTTPReplica:
    def __init__(self, tmp: Path, db: str, api: FakeSlackAPI, name: str) -> None:
        """Start ``relbot run --http``; :meth:`started` waits until it listens."""
        self.name, self.api = name, api
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--http", "--port", "0", "--config",
             str(tmp / "relbot.yml"), "--db", db], cwd=tmp, stderr=subprocess.PIPE, text=True,
            start_new_session=True,  # its own process group: SIGKILL takes its git children
            env=_env(SLACK_BOT_TOKEN="xoxb-test-000000000", SLACK_SIGNING_SECRET=SECRET,
                     SLACK_API_URL=api.url, RELBOT_DATA_DIR=str(tmp / f"data-{name}")))

    def started(self) -> HTTPReplica:
        assert self.proc.stderr is not None
        url, deadline = "", time.time() + 60
        while time.time() < deadline and not url:
            line = self.proc.stderr.readline()
            m = re.search(r"listening on (http://\S+/slack/events)", line)
            url = m.group(1) if m else ""
            if not line and self.proc.poll() is not None:
                break
        assert url, f"replica {self.name} did not start (rc={self.proc.poll()})"
        self.sender = SlackSender(url, SECRET, self.api)
        return self

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def api() -> Iterator[FakeSlackAPI]:
    a = FakeSlackAPI().start()
    for u in ("U0ALICE", "U0BOB", "U0CAROL"):
        a.state.add_user(u)
    a.state.add_group("release-managers", ["U0CAROL"])
    yield a
    a.stop()


def test_sigkill_mid_sync_the_other_replica_marks_it_interrupted_once(
        tmp_path: Path, api: FakeSlackAPI, pg_url: str) -> None:
    src, dst = setup_repos(tmp_path)
    marker = tmp_path / "push-started"
    hook = dst / "hooks" / "pre-receive"
    hook.write_text(HOOK.format(marker=marker))
    hook.chmod(0o755)
    before = sh("rev-parse", "main", cwd=dst).strip()
    (tmp_path / "relbot.yml").write_text(BASE_CONFIG + (
        f"syncs:\n  - name: docs\n    type: cross-repo\n"
        f"    source: {{repo: {src}, ref: main, path: docs/}}\n"
        f"    target: {{repo: {dst}, branch: main, path: content/}}\n"
        f"    approval: {{quorum: 1}}\n    lock_ttl: 3s\n"))
    assert relbot("db", "migrate", "--db", pg_url, cwd=tmp_path).returncode == 0
    a = HTTPReplica(tmp_path, pg_url, api, "a")
    b = HTTPReplica(tmp_path, pg_url, api, "b")   # both start at once
    try:
        for r in (a, b):
            r.started()
        a.sender.command("U0ALICE", "/sync plan docs")
        plan = wait_for(lambda: next((m for m in api.state.messages
                                      if m.rendered.startswith("Dry-run DR-")), None), "plan")
        a.sender.react("U0BOB", plan, "white_check_mark")   # quorum: replica a executes
        wait_for(marker.exists, "the push to reach the target's pre-receive hook")
        a.kill()                                            # mid-push, no clean-up at all
        text = wait_for(lambda: [m.rendered for m in api.state.messages
                                 if m.thread_ts == plan.ts and "was interrupted" in m.rendered],
                        "the surviving replica to mark the sync interrupted", timeout=60)
        db = Database(pg_url)
        try:
            log = AuditLog(db, migrate=False)
            assert len(list(log.entries(action_prefix="sync.interrupted"))) == 1
            assert not list(log.entries(action_prefix="sync.success"))
            assert log.verify().ok
        finally:
            db.close()
        assert len(text) == 1
        assert sh("rev-parse", "main", cwd=dst).strip() == before   # nothing was pushed
        assert b.sender.command("U0ALICE", f"/sync status {plan.rendered.split()[1]}"
                                ).status == 200            # the survivor keeps serving
        wait_for(lambda: any("interrupted" in m.rendered for m in api.state.private),
                 "/sync status answered by the survivor")
    finally:
        for r in (a, b):
            if r.proc.poll() is None:
                os.killpg(r.proc.pid, signal.SIGKILL)
                r.proc.wait(10)
