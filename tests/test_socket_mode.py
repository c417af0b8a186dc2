"""``relbot run`` in Socket Mode, end to end: the stand-in's WebSocket endpoint delivers
envelopes (slash command, reaction event, button) to real ``relbot run`` processes, which ack
on the socket and post through the stand-in Web API; ``disconnect`` makes them reconnect; two
replicas on one PostgreSQL database each get some of the envelopes, every one once."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.standin.socketmode import SocketModeHub, SocketSender
from bot.standin.webapi import FakeSlackAPI
from storage.audit import AuditLog
from storage.db import Database
from tests.cli import relbot
from tests.test_foundation_run import _env
from tests.test_release_fixtures import config as release_config
from tests.test_release_flow import _ready_repo
from tests.test_sync_flow import setup_repos


def _config(tmp: Path) -> str:
    src, dst = setup_repos(tmp)
    return release_config(_ready_repo(tmp), extra=(
        f"approval: {{quorum: 1}}\nsyncs:\n  - name: docs\n    type: cross-repo\n"
        f"    source: {{repo: {src}, ref: main, path: docs/}}\n"
        f"    target: {{repo: {dst}, branch: main, path: content/}}\n"))


def wait_for(pred: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def slack() -> Iterator[tuple[FakeSlackAPI, SocketModeHub]]:
    api = FakeSlackAPI().start()
    hub = SocketModeHub().attach(api)
    for u in ("U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"):
        api.state.add_user(u)
    api.state.add_group("release-managers", ["U0CAROL"])
    yield api, hub
    hub.stop()
    api.stop()


class Replica:
    def __init__(self, tmp: Path, db: str, api: FakeSlackAPI, name: str) -> None:
        """Start ``relbot run`` in Socket Mode; :meth:`started` waits until it listens."""
        self.name, self.terminated = name, False
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(tmp / "relbot.yml"), "--db", db,
             "--health-port", "0"], cwd=tmp, stderr=subprocess.PIPE, text=True,
            env=_env(SLACK_BOT_TOKEN="xoxb-test-000000000", SLACK_APP_TOKEN=f"xapp-1-{name}",
                     SLACK_API_URL=api.url, RELBOT_DATA_DIR=str(tmp / f"data-{name}")))

    def started(self) -> Replica:
        assert self.proc.stderr is not None
        line = ""
        deadline = time.time() + 60
        while time.time() < deadline and "health checks" not in line:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                break
        m = re.search(r"listening on (http://\S+) \(health checks\)", line)
        assert m, f"replica {self.name} did not start (rc={self.proc.poll()})"
        self.health = m.group(1)
        self.log: list[str] = []   # the rest of its stderr, read so the pipe never fills
        threading.Thread(target=self.log.extend, args=(self.proc.stderr,), daemon=True).start()
        return self

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.health + path, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def terminate(self) -> Replica:
        """Send SIGTERM once (a second one, after the bot restored the default handler on
        its way out, would kill it)."""
        if self.proc.poll() is None and not self.terminated:
            self.proc.send_signal(signal.SIGTERM)
            self.terminated = True
        return self

    def stop(self) -> int:
        return self.terminate().proc.wait(30)


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[Replica]]:
    started: list[Replica] = []
    yield started
    for r in started:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait(10)
        print(f"--- replica {r.name} stderr ---\n" + "".join(getattr(r, "log", [])))


def _plan(api: FakeSlackAPI) -> Any:
    return wait_for(lambda: next((m for m in api.state.messages
                                  if m.rendered.startswith("Dry-run DR-")), None), "dry-run")


def test_socket_mode_command_reaction_button_and_reconnect(tmp_path: Path, slack, replicas
                                                           ) -> None:
    api, hub = slack
    (tmp_path / "relbot.yml").write_text(_config(tmp_path))
    db = str(tmp_path / "relbot.db")
    bot = Replica(tmp_path, db, api, "one")
    replicas.append(bot)
    bot.started()
    [conn] = hub.wait_connections(1)
    assert wait_for(lambda: bot.get("/readyz") == (200, "ready"), "readyz")
    sender = SocketSender(hub, api)

    said = sender.command("U0ALICE", "/release help")           # slash command, acked on socket
    assert said.status == 200 and "/release start" in said.text
    assert hub.deliveries[-1].ack["envelope_id"] == hub.deliveries[-1].envelope_id

    sender.command("U0ALICE", "/sync plan docs")
    plan = _plan(api)
    sender.react("U0BOB", plan, "white_check_mark")             # reaction vote (events_api)
    wait_for(lambda: any("done: target now at" in m.rendered for m in api.state.messages
                         if m.thread_ts == plan.ts), "sync executed")

    sender.command("U0ALICE", "/release start minor")
    msg = wait_for(lambda: next((m for m in api.state.messages
                                 if m.rendered.startswith("== Release api")), None), "release")
    sender.click("U0CAROL", msg, "release:check:RL-01", "1:RL-01")   # button (interactive)
    log = AuditLog(Database(db), migrate=False)
    wait_for(lambda: [e for e in log.entries(action_prefix="release.check")
                      if e.actor == "U0CAROL"], "RL-01 confirmed by U0CAROL")

    hub.disconnect(conn)                                        # Slack asks for a reconnect
    hub.wait_connections(1, newer_than=conn)
    assert len(api.calls("apps.connections.open")) >= 2
    assert "/sync plan" in sender.command("U0BOB", "/sync help").text
    assert hub.deliveries[-1].connection > conn

    assert bot.stop() == 0
    actions = [e.action for e in log.entries()]
    assert actions[0] == "bot.started" and actions[-1] == "bot.stopped"
    assert [e.payload.get("mode") for e in log.entries(action_prefix="bot.started")] == \
        ["socket"]
    assert wait_for(lambda: not hub.connections(), "socket closed on SIGTERM")


def test_two_replicas_on_postgres_each_envelope_once(tmp_path: Path, slack, replicas,
                                                     pg_url: str) -> None:
    api, hub = slack
    (tmp_path / "relbot.yml").write_text(_config(tmp_path))
    assert relbot("db", "migrate", "--db", pg_url, cwd=tmp_path).returncode == 0
    replicas.extend(Replica(tmp_path, pg_url, api, name) for name in ("a", "b"))
    for r in replicas:   # both start at once
        r.started()
    conns = hub.wait_connections(2)
    assert len(conns) == 2
    sender = SocketSender(hub, api)
    for _ in range(4):
        assert sender.command("U0DAVE", "/release help").status == 200
    sender.command("U0ALICE", "/sync plan docs")
    plan = _plan(api)
    # Slack retries the same event on another connection: processed once
    sender.react("U0BOB", plan, "white_check_mark", event_id="EvSOCKET1")
    sender.react("U0BOB", plan, "white_check_mark", event_id="EvSOCKET1", retry_num=1,
                 record=False)
    # the plan was made on one replica and the vote reached the other: it executes there
    wait_for(lambda: any("done: target now at" in m.rendered for m in api.state.messages
                         if m.thread_ts == plan.ts), "sync executed")
    used = {d.connection for d in hub.deliveries}
    assert used == set(conns)                                   # both replicas took envelopes
    assert all(d.ack is not None for d in hub.deliveries)      # each acked on its connection
    db = Database(pg_url)
    log = AuditLog(db, migrate=False)
    assert len(list(log.entries(action_prefix="approval.counted"))) == 1
    assert len(list(log.entries(action_prefix="sync.success"))) == 1
    assert log.verify().ok
    for r in replicas:   # both stop at once
        r.terminate()
    assert [r.stop() for r in replicas] == [0, 0]
    assert len(list(log.entries(action_prefix="bot.stopped"))) == 2
    db.close()
