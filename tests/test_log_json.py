"""``relbot run --log-format json``: one JSON object per stderr line, secrets scrubbed."""

from __future__ import annotations

import json
import logging
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.runner import JsonFormatter
from tests.harness import BASE_CONFIG
from tests.test_foundation_run import SECRET, _audit_actions, _env

SECRET_VALUE = "hunter2-secret-value"


def test_run_logs_one_json_object_per_line_with_secrets_scrubbed(tmp_path: Path) -> None:
    from bot.standin.webapi import FakeSlackAPI

    api = FakeSlackAPI().start()
    config = tmp_path / "relbot.yml"
    config.write_text(BASE_CONFIG + f"secrets: [{SECRET_VALUE}]\n")
    db = tmp_path / "relbot.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--http", "--port", "0", "--log-format", "json",
         "--config", str(config), "--db", str(db)], cwd=tmp_path, stderr=subprocess.PIPE,
        text=True, env=_env(SLACK_BOT_TOKEN="xoxb-test-000000000",
                            SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=api.url))
    try:
        assert proc.stderr is not None
        lines = []
        while not lines or "listening on" not in lines[-1]:
            lines.append(proc.stderr.readline())
            assert lines[-1], "relbot run ended before listening"
        first = json.loads(lines[-1])
        assert first["level"] == "INFO" and first["logger"] == "relbot"
        assert re.search(r"listening on http://\S+/slack/events", first["message"])
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", first["ts"])
        # a reload that fails names the bad key, which here is a secret: scrubbed
        config.write_text(BASE_CONFIG + f"secrets: [{SECRET_VALUE}]\n{SECRET_VALUE}: 1\n")
        proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        while time.time() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "config reload failed" in line:
                break
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        lines += proc.stderr.read().splitlines()
    finally:
        if proc.poll() is None:
            proc.kill()
        api.stop()
    records = [json.loads(ln) for ln in lines if ln.strip()]   # every line is JSON
    [failed] = [r for r in records if "config reload failed" in r["message"]]
    assert failed["level"] == "ERROR" and "relbot.yml" in failed["message"]
    assert SECRET_VALUE not in "".join(lines)
    assert "bot.stopped" in _audit_actions(db)


def test_json_formatter_scrubs_message_and_traceback() -> None:
    fmt = JsonFormatter()
    fmt.secrets = lambda: [SECRET_VALUE]
    try:
        raise RuntimeError(f"token xoxb-1234-5678-abcdefabcdef and {SECRET_VALUE}")
    except RuntimeError:
        record = logging.LogRecord("relbot.x", logging.ERROR, __file__, 1,
                                   "posting with %s failed", ("xoxb-1234-5678-abcdefabcdef",),
                                   sys.exc_info())
    line = fmt.format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"].startswith("posting with ") and "xoxb-1234" not in data["message"]
    assert "RuntimeError" in data["exc"] and "Traceback" in data["exc"]
    assert "xoxb-1234" not in data["exc"] and SECRET_VALUE not in data["exc"]
