"""Start-up does only what serving needs (issue 14): feature modules are imported when first
used, an up-to-date schema is checked with one read, prometheus-client waits for a scrape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bot import lazy
from bot.config import ConfigHolder, load_config
from bot.services import build_services
from bot.standin.webapi import FakeSlackAPI
from storage.db import Database

FEATURES = ["bot.sync.run", "bot.sync.flow", "bot.sync.plan", "bot.rollback.flow",
            "bot.rollback.run", "bot.release.service", "bot.release.checks",
            "bot.integrations.http", "bot.cadence.reminders", "prometheus_client"]

START = """
import json, sys
from bot.app import build_app, make_client
from bot.config import ConfigHolder, load_config
from bot.services import build_services
holder = ConfigHolder(load_config(sys.argv[1]), sys.argv[1])
svc = build_services(holder, sys.argv[2], client=make_client("xoxb-test", sys.argv[4]))
build_app(svc, "secret", prechecked=True)
svc.audit.append("system", "bot.started", "relbot", {})
svc.work.wait_idle()
print(json.dumps(sorted(m for m in json.loads(sys.argv[3]) if m in sys.modules)))
svc.close()
"""


def test_relbot_starts_without_importing_the_features(tmp_path: Path) -> None:
    cfg = tmp_path / "relbot.yml"
    cfg.write_text("channel: C0RELEASES\napprovers: [U0ALICE, U0BOB]\n")
    api = FakeSlackAPI().start()
    try:
        out = subprocess.run([sys.executable, "-c", START, str(cfg), str(tmp_path / "r.db"),
                              json.dumps(FEATURES), api.url], capture_output=True, text=True,
                             timeout=120, cwd=Path(__file__).resolve().parent.parent)
    finally:
        api.stop()
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == []


def test_an_up_to_date_schema_is_checked_with_one_read(tmp_path: Path) -> None:
    cfg = tmp_path / "relbot.yml"
    cfg.write_text("channel: C0RELEASES\n")
    holder = ConfigHolder(load_config(cfg), cfg)
    build_services(holder, tmp_path / "r.db").close()   # creates every table
    again = Database(tmp_path / "r.db")
    seen: list[str] = []
    again.trace(seen.append)
    from storage.audit import MIGRATIONS as AUDIT
    from storage.outbox import MIGRATIONS as OUTBOX

    assert again.migrate("audit", AUDIT) == len(AUDIT)
    assert again.migrate("outbox", OUTBOX) == len(OUTBOX)
    assert [s for s in seen if "schema_version" in s] == [
        "SELECT component, version FROM schema_version"]
    assert not any(s.startswith("BEGIN") for s in seen)


def test_a_component_behind_still_migrates_in_a_transaction(tmp_path: Path) -> None:
    db = Database(tmp_path / "r.db")
    assert db.migrate("probe", ["CREATE TABLE probe_a (x INTEGER)"]) == 1
    seen: list[str] = []
    db.trace(seen.append)
    assert db.migrate("probe", ["CREATE TABLE probe_a (x INTEGER)",
                                "CREATE TABLE probe_b (y INTEGER)"]) == 2
    assert any(s.startswith("BEGIN") for s in seen)
    assert "probe_b" in db.tables() and Database(tmp_path / "r.db").version("probe") == 2


def test_lazy_imports_on_first_use_and_registers_once() -> None:
    mod = lazy.module("json")
    assert mod.dumps([1]) == "[1]"
    assert lazy.later("json", "dumps") is lazy.later("json", "dumps")
    assert lazy.later("json", "dumps")({"a": 1}) == '{"a": 1}'
