"""Issue 13: canonical audit entries, the HMAC chain, checkpoints and `relbot audit verify`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from urllib.parse import urlencode

from bot.clock import FakeClock
from storage.audit import AuditLog, CheckpointPolicy
from storage.checkpoints import CheckpointFile
from storage.db import Database
from tests.cli import relbot
from tests.rollback_fixtures import rb_message, rollback_chat

KEY = "k" * 32
START = "/rollback api sev=1 impact=widespread to=1.3.0 bad deploy"


def _raw(db: Path) -> sqlite3.Connection:
    raw = sqlite3.connect(db)
    raw.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    raw.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    return raw


def test_numeric_user_id_in_a_signed_block_action_leaves_a_verifiable_log(make_chat) -> None:
    """Why-1: "user": {"id": 777} was hashed as the integer but stored as the text "777"."""
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", START)
    msg = rb_message(chat)
    block = next(b for b in msg.blocks if b.get("block_id", "").startswith("rollback-checklist"))
    payload = {
        "type": "block_actions", "team": {"id": "T0RELBOT"}, "user": {"id": 777},
        "api_app_id": "A0RELBOT", "trigger_id": "777.trigger",
        "container": {"type": "message", "message_ts": msg.ts, "channel_id": msg.channel},
        "channel": {"id": msg.channel}, "message": {"ts": msg.ts, "blocks": msg.blocks},
        "actions": [{"type": "checkboxes", "action_id": block["elements"][0]["action_id"],
                     "block_id": block["block_id"], "selected_options": [{"value": "pre-1"}]}],
    }
    r = chat.sender.post(urlencode({"payload": json.dumps(payload)}),
                         "application/x-www-form-urlencoded")
    chat.local.wait_idle()
    assert r.status == 200
    assert any(e.actor == "777" for e in chat.audit())  # the refused tick, as text
    assert chat.svc.audit.verify().ok
    chat.local.close(keep_api=True)
    r = relbot("audit", "verify", "--db", str(chat.db_path))
    assert r.returncode == 0, r.stdout + r.stderr
    chat.local.__init__(chat.holder, chat.db_path, clock=chat.clock, real_time=False,
                        api=chat.api)  # so the fixture can close it again


def test_any_value_a_request_can_carry_appends_an_entry_that_verifies(tmp_path: Path) -> None:
    log = AuditLog(Database(tmp_path / "a.db"), FakeClock("2026-11-24T09:00:00+00:00"))
    odd = [
        (777, "action", None, {"n": 1, "f": 1.5, "big": 10**30, "nan": float("nan")}),
        ("U0X", 3.5, 12, {"none": None, "t": True, 4: "int key", "nested": {"a": [{"b": []}]}}),
        ("\udc80lone", "x", "\ud800", {"s": "\udfff", "k\ud834": ["\udc00"]}),
        ("U0Y", "huge", "s", {"text": "x" * 200_000, "set": {3, 1, 2}, "tuple": (1, "a")}),
        ("U0Z", "deep", "s", {"d": json.loads("[" * 200 + "]" * 200)}),
    ]
    for actor, action, subject, payload in odd:
        e = log.append(actor, action, subject, payload)
        stored = log.get(e.seq)
        assert stored == e  # what append returns is exactly what is stored
    assert log.verify().ok and log.verify().count == len(odd)
    assert log.get(1).payload["nan"] == "nan" and log.get(1).payload["big"] == 10**30
    assert log.get(2).payload["4"] == "int key"
    assert log.get(4).payload["set"] == [1, 2, 3]
    r = relbot("audit", "verify", "--db", str(tmp_path / "a.db"))
    assert r.returncode == 0 and f"{len(odd)} entries" in r.stdout, r.stdout + r.stderr


def _keyed_log(tmp_path: Path, n: int, every: int = 3) -> tuple[AuditLog, Path, Path]:
    db, cps = tmp_path / "relbot.db", tmp_path / "vol2" / "checkpoints.jsonl"
    clock = FakeClock("2026-11-24T09:00:00+00:00")
    log = AuditLog(Database(db), clock, key=KEY.encode(),
                   checkpoints=CheckpointPolicy(CheckpointFile(cps, KEY.encode()), every=every))
    for i in range(n):
        log.append("U0ALICE", "command", "/release", {"i": i})
        clock.advance(minutes=1)
    log.db.close()
    return log, db, cps


def _config(tmp_path: Path, cps: Path) -> Path:
    cfg = tmp_path / "relbot.yml"
    cfg.write_text("channel: C0RELEASES\naudit:\n  key: env:RELBOT_AUDIT_KEY\n"
                   f"  checkpoints: {{file: {cps}, every: 3}}\n")
    return cfg


def test_keyed_chain_detects_recomputation_without_the_key(tmp_path: Path) -> None:
    """Why-9: an edit with the chain recomputed passed, since the chain had no key."""
    from storage.audit import GENESIS, entry_hash

    _, db, cps = _keyed_log(tmp_path, 5)
    cfg = _config(tmp_path, cps)
    env = {"RELBOT_AUDIT_KEY": KEY}
    r = relbot("audit", "verify", "--db", str(db), "--config", str(cfg), env=env)
    assert r.returncode == 0 and "5 entries" in r.stdout and "HMAC" in r.stdout, r.stdout
    raw = _raw(db)
    prev = GENESIS
    for row in raw.execute("SELECT * FROM audit_log ORDER BY seq").fetchall():
        seq, ts, actor, action, subject, payload = row[:6]
        payload = payload.replace('"i":2', '"i":99')
        h = entry_hash(seq, ts, actor, action, subject, payload, prev)  # no key: plain SHA
        raw.execute("UPDATE audit_log SET payload=?, prev_hash=?, hash=?, alg='sha256' "
                    "WHERE seq=?", (payload, prev, h, seq))
        prev = h
    raw.commit()
    raw.close()
    r = relbot("audit", "verify", "--db", str(db), "--config", str(cfg), env=env)
    assert r.returncode == 1 and "BROKEN at entry 4" in r.stdout, r.stdout + r.stderr
    assert "does not match the checkpoint" in r.stdout
    # without the checkpoints the key alone catches it
    r = relbot("audit", "verify", "--db", str(db), env=env)
    assert r.returncode == 1 and "no entry is keyed" in r.stdout, r.stdout + r.stderr
    # the same with the key recomputed but a wrong one: the hashes do not match
    r = relbot("audit", "verify", "--db", str(db), env={"RELBOT_AUDIT_KEY": "x" * 32})
    assert r.returncode == 1, r.stdout + r.stderr


def test_checkpoints_detect_truncation_and_deletion_of_everything(tmp_path: Path) -> None:
    """Why-9: deleting the last N entries, or all of them, passed `audit verify`."""
    _, db, cps = _keyed_log(tmp_path, 7, every=3)
    lines = [json.loads(x) for x in cps.read_text().splitlines()]
    assert [x["seq"] for x in lines] == [1, 4, 7] and all(
        x["mac"].startswith("hmac-sha256:") for x in lines)
    cfg, env = _config(tmp_path, cps), {"RELBOT_AUDIT_KEY": KEY}
    raw = _raw(db)
    raw.execute("DELETE FROM audit_log WHERE seq > 5")
    raw.commit()
    r = relbot("audit", "verify", "--db", str(db), "--config", str(cfg), env=env)
    assert r.returncode == 1 and "entries 6..7 are missing" in r.stdout, r.stdout
    raw.execute("DELETE FROM audit_log")
    raw.commit()
    raw.close()
    r = relbot("audit", "verify", "--db", str(db), "--config", str(cfg), env=env)
    assert r.returncode == 1 and "entries 1..7 are missing" in r.stdout, r.stdout
    # a forged checkpoint line (no key) is not trusted: the newest valid one still counts
    with cps.open("a") as f:
        f.write(json.dumps({"seq": 0, "head": "0" * 64, "ts": "2027-01-01T00:00:00Z",
                            "mac": "sha256:forged"}) + "\n")
    r = relbot("audit", "verify", "--db", str(db), "--checkpoints", str(cps), env=env)
    assert r.returncode == 1, r.stdout


def test_keyed_log_without_the_key_is_unverifiable_not_intact(tmp_path: Path) -> None:
    _, db, _ = _keyed_log(tmp_path, 2)
    r = relbot("audit", "verify", "--db", str(db), env={"RELBOT_AUDIT_KEY": ""})
    assert r.returncode == 2 and "keyed" in r.stderr, r.stdout + r.stderr


def test_restart_refuses_to_append_behind_the_last_checkpoint(tmp_path: Path) -> None:
    """Why-9: a restarted bot carried on from the truncated head."""
    _, db, cps = _keyed_log(tmp_path, 4, every=2)
    cfg = _config(tmp_path, cps)
    raw = _raw(db)
    raw.execute("DELETE FROM audit_log WHERE seq > 2")
    raw.commit()
    raw.close()
    env = {"RELBOT_AUDIT_KEY": KEY, "SLACK_BOT_TOKEN": "xoxb-test",
           "SLACK_SIGNING_SECRET": "s" * 32, "SLACK_APP_TOKEN": ""}
    r = relbot("run", "--http", "--port", "0", "--config", str(cfg), "--db", str(db), env=env)
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip().splitlines()[-1]  # (above it only the scheduler's INFO lines)
    assert "Traceback" not in r.stderr
    assert line.startswith("relbot: refusing to append: audit log head is at seq 2 but the "
                           "last checkpoint is at seq 3"), line
    assert AuditLog(Database(db)).count() == 2  # nothing appended


def test_unset_audit_key_is_a_one_line_start_error(tmp_path: Path) -> None:
    cfg = _config(tmp_path, tmp_path / "cp.jsonl")
    env = {"RELBOT_AUDIT_KEY": "", "SLACK_BOT_TOKEN": "xoxb-test",
           "SLACK_SIGNING_SECRET": "s" * 32, "SLACK_APP_TOKEN": ""}
    r = relbot("run", "--http", "--port", "0", "--config", str(cfg), "--db",
               str(tmp_path / "x.db"), env=env)
    assert r.returncode == 2 and r.stderr.strip() == (
        "relbot: audit.key names RELBOT_AUDIT_KEY, which is not set"), r.stderr


def test_checkpoint_is_posted_to_the_audit_channel(make_chat, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RELBOT_AUDIT_KEY", KEY)
    cps = tmp_path / "cp.jsonl"
    chat = make_chat("channel: C0RELEASES\naudit:\n  key: env:RELBOT_AUDIT_KEY\n"
                     f"  checkpoints: {{file: {cps}, every: 2, channel: C0AUDIT}}\n")
    chat.command("U0ALICE", "/release help")
    chat.command("U0ALICE", "/release help")
    posted = [m for m in chat.messages if m.channel == "C0AUDIT"]
    assert posted and posted[0].text.startswith("audit checkpoint: seq ")
    assert KEY not in cps.read_text() and KEY not in posted[0].text
    assert chat.svc.audit.verify().ok


def test_cli_entries_join_a_keyed_chain_keyed(tmp_path: Path) -> None:
    """`relbot sync plan --db` appends too: with a key it must append HMAC entries, or the
    chain would read as rewritten."""
    from tests.test_sync_plan import make_remote

    _, db, cps = _keyed_log(tmp_path, 2)
    src = make_remote(tmp_path, "src", {"a.yml": "x: 1\n"})
    dst = make_remote(tmp_path, "dst", {"a.yml": "x: 2\n"})
    cfg = _config(tmp_path, cps)
    cfg.write_text(cfg.read_text() + f"syncs:\n  - name: s\n    type: config\n"
                   f"    source: {{repo: {src}}}\n    target: {{repo: {dst}}}\n")
    env = {"RELBOT_AUDIT_KEY": KEY}
    r = relbot("sync", "plan", "s", "--db", str(db), "--config", str(cfg), env=env)
    assert "recorded" in r.stdout, r.stdout + r.stderr
    r = relbot("audit", "verify", "--db", str(db), "--config", str(cfg), env=env)
    assert r.returncode == 0 and "3 entries" in r.stdout, r.stdout + r.stderr
    r = relbot("sync", "plan", "s", "--db", str(db), "--config", str(cfg),
               env={"RELBOT_AUDIT_KEY": ""})
    assert r.returncode == 2 and "RELBOT_AUDIT_KEY" in r.stderr, r.stdout + r.stderr
