"""`relbot run --http` and `relbot console` as real subprocesses."""

from __future__ import annotations

import io
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.standin.dispatcher import SlackSender
from bot.standin.webapi import FakeSlackAPI
from tests.harness import BASE_CONFIG

ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-signing-secret-0123456789"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


@pytest.fixture
def api() -> Iterator[FakeSlackAPI]:
    a = FakeSlackAPI().start()
    yield a
    a.stop()


class Bot:
    def __init__(self, proc: subprocess.Popen, url: str, db: Path, config: Path) -> None:
        self.proc, self.url, self.db, self.config = proc, url, db, config


@pytest.fixture
def bot(tmp_path: Path, api: FakeSlackAPI) -> Iterator[Bot]:
    config = tmp_path / "relbot.yml"
    config.write_text(BASE_CONFIG)
    db = tmp_path / "relbot.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--http", "--port", "0", "--config", str(config),
         "--db", str(db)], cwd=tmp_path, stderr=subprocess.PIPE, text=True,
        env=_env(SLACK_BOT_TOKEN="xoxb-test-000000000", SLACK_SIGNING_SECRET=SECRET,
                 SLACK_API_URL=api.url))
    assert proc.stderr is not None
    url = ""
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stderr.readline()
        m = re.search(r"listening on (http://\S+/slack/events)", line)
        if m:
            url = m.group(1)
            break
        if not line and proc.poll() is not None:
            break
    assert url, f"bot did not start (rc={proc.poll()})"
    b = Bot(proc, url, db, config)
    yield b
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def _audit_actions(db: Path) -> list[str]:
    c = sqlite3.connect(db)
    try:
        return [r[0] for r in c.execute("SELECT action FROM audit_log ORDER BY seq")]
    finally:
        c.close()


def test_run_http_serves_signed_help_healthz_and_stops_on_sigterm(bot: Bot,
                                                                  api: FakeSlackAPI) -> None:
    sender = SlackSender(bot.url, SECRET, api)
    res = sender.command("U0ALICE", "/release help")
    assert res.status == 200
    assert res.json["response_type"] == "ephemeral" and "/release" in res.text
    assert sender.post("command=%2Frelease", "application/x-www-form-urlencoded",
                       signature="v0=" + "0" * 64).status == 401
    with urllib.request.urlopen(bot.url.replace("/slack/events", "/healthz"), timeout=10) as r:
        assert r.status == 200

    bot.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 20
    while "config.reloaded" not in _audit_actions(bot.db) and time.time() < deadline:
        time.sleep(0.1)
    assert "config.reloaded" in _audit_actions(bot.db)

    bot.proc.send_signal(signal.SIGTERM)
    assert bot.proc.wait(30) == 0
    err = bot.proc.stderr.read() if bot.proc.stderr else ""
    assert "Traceback" not in err
    actions = _audit_actions(bot.db)
    assert actions[0] == "bot.started" and actions[-1] == "bot.stopped"
    assert "command.usage" in actions


@pytest.mark.parametrize("missing", ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"])
def test_missing_token_is_one_line_exit_2(tmp_path: Path, missing: str) -> None:
    (tmp_path / "relbot.yml").write_text(BASE_CONFIG)
    env = _env(SLACK_BOT_TOKEN="xoxb-test-0000000", SLACK_SIGNING_SECRET=SECRET)
    del env[missing]
    r = subprocess.run([sys.executable, "-m", "bot", "run", "--http", "--port", "0"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert missing in r.stderr and "Traceback" not in r.stderr


def test_console_on_the_example_config_answers_piped_commands() -> None:
    demo = ("/release help\n/sync help\n/sync list\n/rollback help\n/release calendar 2\n"
            "home\naudit 5\n")
    r = subprocess.run([sys.executable, "-m", "bot", "console", "--config",
                        "examples/relbot.yml"], input=demo, cwd=ROOT, env=_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert "U0ALICE> /release help" in r.stdout
    assert "(only U0ALICE sees) */release*" in r.stdout


def test_console_as_and_react_in_a_piped_script(tmp_path: Path) -> None:
    """`as` switches user; `react N` on a numbered message is a real vote; bad N is friendly."""
    cfg = tmp_path / "relbot.yml"
    cfg.write_text(BASE_CONFIG)
    script = ("as U0BOB\n/sync help\nreact white_check_mark 7\naudit 5\n"
              "/sync plan it's \"unbalanced\nquit\n")
    r = subprocess.run([sys.executable, "-m", "bot", "console", "--config", str(cfg),
                        "--db", str(tmp_path / "c.db")], input=script, cwd=tmp_path,
                       env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "U0BOB> /sync help" in out and "(only U0BOB sees)" in out
    assert "U0BOB> react white_check_mark 7" in out and "console:" in out
    assert "U0BOB command.usage /sync" in out
    # the console splits words as the bot does: an apostrophe reaches the bot, not an error
    assert "No closing quotation" not in out and "no sync named \"it's\"" in out
    assert "Traceback" not in out + r.stderr

    # The same console loop, with a bot message posted first so `react 1` has a target.
    from bot.config import ConfigHolder, load_config
    from bot.standin.console import Console
    from bot.standin.local import LocalSlack

    local = LocalSlack(ConfigHolder(load_config(cfg), cfg), tmp_path / "d.db")
    try:
        out_buf = io.StringIO()
        console = Console(local, out_buf)
        ts = local.svc.client.chat_postMessage(channel="C0RELEASES", text="Plan T-1")["ts"]
        local.svc.approvals.open(kind="test", subject="T-1", evidence_id="DR-T1",
                                 digest="0" * 64, channel="C0RELEASES", ts=ts,
                                 requester="U0ALICE", policy=local.svc.config.current.approval,
                                 approvers=("U0ALICE", "U0BOB"))
        for line in ("show 1", "as U0BOB", "react white_check_mark 1", "as U0ALICE",
                     "react white_check_mark 1"):
            assert console.handle(line)
        text = out_buf.getvalue()
        assert "[1] relbot posted:\n    Plan T-1" in text
        assert "(only U0ALICE sees) Your :white_check_mark: on DR-T1 was not counted" in text
        counted = [e.actor for e in local.svc.audit.entries(action_prefix="approval.counted")]
        assert counted == ["U0BOB"]
    finally:
        local.close()


def test_run_without_a_config_file_is_a_short_error_exit_2(tmp_path: Path) -> None:
    env = _env(SLACK_BOT_TOKEN="xoxb-test-0000000", SLACK_SIGNING_SECRET=SECRET)
    r = subprocess.run([sys.executable, "-m", "bot", "run", "--http", "--port", "0"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "relbot.yml" in r.stderr and "file not found" in r.stderr
    assert "Traceback" not in r.stderr
