"""Issue 12 item 9: event IDs unique across console sessions sharing a database, plan IDs
unique under a fixed clock, and `relbot sync plan` saying whether its dry-run is recorded."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

from bot.config import ConfigHolder, load_config
from bot.standin.console import Console
from bot.standin.local import LocalSlack
from tests.cli import relbot
from tests.harness import BASE_CONFIG
from tests.test_sync_flow import config, plan_msg, setup_repos


def _session_vote(cfg: Path, db: Path, subject: str) -> list[str]:
    """One console session on ``db``: a message with an open approval, U0BOB reacts."""
    local = LocalSlack(ConfigHolder(load_config(cfg), cfg), db)
    try:
        console = Console(local, io.StringIO())
        ts = local.svc.client.chat_postMessage(channel="C0RELEASES", text=subject)["ts"]
        local.svc.approvals.open(kind="test", subject=subject, evidence_id=f"DR-{subject}",
                                 digest="0" * 64, channel="C0RELEASES", ts=ts,
                                 requester="U0ALICE", policy=local.svc.config.current.approval,
                                 approvers=("U0ALICE", "U0BOB"))
        assert console.handle("as U0BOB") and console.handle("react white_check_mark 1")
        return [e.subject for e in local.svc.audit.entries(action_prefix="approval.counted")]
    finally:
        local.close()


def test_a_second_console_session_on_the_same_db_counts_its_reactions(tmp_path: Path) -> None:
    cfg = tmp_path / "relbot.yml"
    cfg.write_text(BASE_CONFIG)
    db = tmp_path / "shared.db"
    assert _session_vote(cfg, db, "T-1") == ["T-1"]
    # before the fix the second session's first event reused Ev00000001 and was dropped
    assert _session_vote(cfg, db, "T-2") == ["T-1", "T-2"]


def test_plan_cancel_plan_under_a_fixed_clock(tmp_path: Path, make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    chat = make_chat(config(src, dst))
    chat.command("U0ALICE", "/sync plan docs")
    first = plan_msg(chat).rendered.split()[1]
    assert "cancelled" in chat.command("U0ALICE", f"/sync cancel {first}").text
    said = chat.command("U0ALICE", "/sync plan docs")
    assert "Internal error" not in said.text and "UNIQUE" not in said.text
    second = plan_msg(chat).rendered.split()[1]
    assert second == f"{first}-2"
    assert "needs 2 more approvals" in plan_msg(chat).rendered
    assert [e.subject for e in chat.audit("sync.planned")] == [first, second]


def test_cli_sync_plan_records_the_dry_run_only_with_a_db(tmp_path: Path, make_chat) -> None:
    src, dst = setup_repos(tmp_path)
    cfg = tmp_path / "relbot.yml"
    cfg.write_text(config(src, dst))
    r = relbot("--config", str(cfg), "sync", "plan", "docs")
    assert r.returncode == 1, r.stderr
    assert "not recorded: DR-" in r.stdout and "give --db" in r.stdout
    chat = make_chat(config(src, dst))           # the bot's database, created by the bot
    r = relbot("--config", str(cfg), "sync", "plan", "docs", "--db", str(chat.db_path))
    assert r.returncode == 1, r.stderr
    line = r.stdout.strip().splitlines()[-1]
    assert line.startswith("recorded: dry-run DR-") and str(chat.db_path) in line
    pid = line.split()[2]
    con = sqlite3.connect(chat.db_path)
    assert con.execute("SELECT status, active FROM actions WHERE id = ?",
                       (f"sync:{pid}",)).fetchone() == ("dry-run", 0)
    [(action,)] = con.execute("SELECT action FROM audit_log WHERE subject = ?", (pid,))
    assert action == "sync.planned"
    r = relbot("--config", str(cfg), "sync", "plan", "docs", "--db", str(tmp_path / "no.db"))
    assert r.returncode == 2 and "does not exist" in r.stderr
