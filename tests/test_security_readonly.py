"""Issue 13 Why-6: a database relbot cannot write. When the tests run as root the bot runs
without the capabilities that let root ignore file permissions (CAP_DAC_OVERRIDE and
friends), so a read-only file is read-only to it, as on any real deployment."""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.standin.dispatcher import HTTPResult, SlackSender
from bot.standin.webapi import FakeSlackAPI
from storage.audit import AuditLog
from storage.db import Database
from tests.harness import BASE_CONFIG
from tests.test_foundation_run import SECRET, _env

ROOT = Path(__file__).resolve().parent.parent
_PR_CAPBSET_DROP, _DAC_CAPS = 24, (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER


def _no_dac_override() -> None:
    """In the child before exec: drop the capabilities that bypass file permissions."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in _DAC_CAPS:
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "box"
    d.mkdir()
    (d / "relbot.yml").write_text(BASE_CONFIG)
    yield d
    subprocess.run(["chmod", "-R", "u+w", str(d)], check=False)


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT,
                          preexec_fn=_no_dac_override, env=_env(**(env or {})),
                          capture_output=True, text=True, timeout=60)


def _filled(db: Path) -> None:
    log = AuditLog(Database(db), FakeClock("2026-11-24T09:00:00+00:00"))
    for i in range(3):
        log.append("U0ALICE", "command", "/release", {"i": i})
    log.db.close()


def _read_only(d: Path, db: Path) -> None:
    for f in d.glob(db.name + "*"):
        f.chmod(0o444)
    d.chmod(0o555)


def test_read_only_database_at_start_is_one_line_and_exit_2(box: Path) -> None:
    db = box / "relbot.db"
    _filled(db)
    _read_only(box, db)
    r = _run("run", "--http", "--port", "0", "--config", str(box / "relbot.yml"), "--db",
             str(db), env={"SLACK_BOT_TOKEN": "xoxb-test-0", "SLACK_SIGNING_SECRET": SECRET})
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f"relbot cannot write its database {db} ("), r.stderr


def test_audit_verify_opens_read_only_exit_0_1_2(box: Path) -> None:
    """Why-6: verify needed write access and tracebacked with exit 1 (= "broken")."""
    db = box / "relbot.db"
    _filled(db)
    _read_only(box, db)
    r = _run("audit", "verify", "--db", str(db))
    assert r.returncode == 0 and "3 entries" in r.stdout, r.stdout + r.stderr
    for bad in (box / "missing.db", box / "relbot.yml"):
        r = _run("audit", "verify", "--db", str(bad))
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    box.chmod(0o755)
    for f in box.glob("relbot.db*"):
        f.chmod(0o644)
    import sqlite3

    raw = sqlite3.connect(db)
    raw.execute("DROP TRIGGER audit_log_no_update")
    raw.execute("UPDATE audit_log SET actor = 'U0EVE' WHERE seq = 2")
    raw.commit()
    raw.close()
    _read_only(box, db)
    r = _run("audit", "verify", "--db", str(db))
    assert r.returncode == 1 and "BROKEN at entry 2" in r.stdout, r.stdout + r.stderr


@pytest.fixture
def api() -> Iterator[FakeSlackAPI]:
    a = FakeSlackAPI().start()
    yield a
    a.stop()


def test_database_turning_read_only_at_runtime_is_said_to_every_command(
        box: Path, api: FakeSlackAPI) -> None:
    """Why-6: at runtime commands vanished without an answer."""
    db = box / "relbot.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--http", "--port", "0", "--config",
         str(box / "relbot.yml"), "--db", str(db)], cwd=ROOT, preexec_fn=_no_dac_override,
        stderr=subprocess.PIPE, text=True,
        env=_env(SLACK_BOT_TOKEN="xoxb-test-0", SLACK_SIGNING_SECRET=SECRET,
                 SLACK_API_URL=api.url))
    try:
        url = ""
        deadline = time.time() + 60
        while time.time() < deadline and not url:
            line = proc.stderr.readline()
            m = re.search(r"listening on (http://\S+/slack/events)", line)
            url = m.group(1) if m else url
            if not line and proc.poll() is not None:
                break
        assert url, f"bot did not start (rc={proc.poll()})"
        sender = SlackSender(url, SECRET, api)
        health = url.replace("/slack/events", "/healthz")
        assert "Planning" not in sender.command("U0ALICE", "/release help").text
        with urllib.request.urlopen(health, timeout=10) as r:
            assert r.status == 200
        # the help's usage entry is written after its ack: count once it is in
        assert _wait_for(db, "command.usage"), "the usage entry was never recorded"
        before = _count(db)
        # the file becomes read-only under the running bot (a full or remounted disk is the
        # same to SQLite): new connections cannot write
        db.chmod(0o444)
        res = sender.command("U0ALICE", "/release status")
        assert res.status == 200
        said = _cannot_write_answer(res, api)
        assert "relbot cannot write its database" in said, said
        assert "attempt to write a readonly database" in said
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(health, timeout=10)
        assert exc.value.code == 503
        assert "cannot write its database" in exc.value.read().decode()
        assert _count(db) == before  # nothing recorded, nothing claimed
        db.chmod(0o644)
        assert "help" in sender.command("U0ALICE", "/release help").text.lower()
    finally:
        proc.kill()
        proc.wait(10)


def _wait_for(db: Path, action: str, timeout: float = 10.0) -> bool:
    """Until the other process has audited ``action`` (it writes after the ack)."""
    import sqlite3

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            if c.execute("SELECT 1 FROM audit_log WHERE action = ?", (action,)).fetchone():
                return True
        finally:
            c.close()
        time.sleep(0.02)
    return False


def _count(db: Path) -> int:
    import sqlite3

    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return c.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    finally:
        c.close()


def _cannot_write_answer(res: HTTPResult, api: FakeSlackAPI) -> str:
    """The ephemeral "cannot write" answer: in the ack when the check before it got the
    write lock in time, else (a loaded machine: the check waits at most 0.5 s) from the
    command run after the ack, through its response_url. Either way it is said, once."""
    body = res.json or {}
    if str(body.get("text", "")).startswith("relbot cannot write its database"):
        assert body["response_type"] == "ephemeral"
        return str(body["text"])

    def answered() -> list[str]:
        return [m.text for m in api.state.private if "cannot write its database" in m.text]
    assert api.state.wait_for(lambda: answered(), timeout=30), f"no answer (ack: {res.body!r})"
    return answered()[0]

