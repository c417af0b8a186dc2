"""RB-IMM end to end through signed Slack commands, with real shell scripts."""

from __future__ import annotations

import re
import threading

from tests.rollback_fixtures import edit_config, rb_message, rollback_chat, verified
from tests.test_home_view import _open

START = "/rollback api sev=1 impact=widespread error rate 40% after 1.4.0"


def test_immediate_rollback_runs_at_once_and_locks_the_product(make_chat, monkeypatch) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", "tok-9f8e7d6c5b")
    chat = rollback_chat(make_chat)
    said = chat.command("U0ALICE", START)
    assert "RB-0001: severity critical x impact widespread -> immediate, 0 approval(s)" \
        in said.text
    assert "Target 1.3.0 (last known good release before 1.4.0" in said.text
    assert (chat.tmp / "deployed.log").read_text() == "api 1.3.0 \n"
    msg = rb_message(chat)
    text = msg.rendered
    assert text.startswith("== Rollback RB-0001: api 1.4.0 → 1.3.0 ==")
    for i, step in enumerate(("Declare", "Decide", "Execute", "Verify", "Communicate",
                              "Document"), 1):
        assert f":white_check_mark: {i}. {step} — done" in text
    assert "decided 0m00s after declaration" in text
    assert "locked since" in text
    # one message, updated in place; output streamed into its thread, secrets scrubbed
    assert len([m for m in chat.messages if m.rendered.startswith("== Rollback")]) == 1
    # exactly one rollback exists: one row, one action holding the product's slot
    assert [r.id for r in chat.svc.rollbacks.recent()] == ["RB-0001"]
    acts = chat.svc.actions.with_status("rollback", ("executing", "done", "failed"))
    assert [(a.subject, a.exclusive) for a in acts] == [("RB-0001", "rollback:api")]
    thread = "\n".join(m.rendered for m in chat.thread(msg))
    assert "On-call: <!subteam^" in thread and "|@oncall>" in thread
    assert "deploying api to 1.3.0" in thread and "exit 0" in thread
    assert "hunter2-secret-value" not in thread and "[REDACTED]" in thread
    assert "auth [REDACTED]" in thread and "tok-9f8e7d6c5b" not in thread   # env:DEPLOY_TOKEN
    assert "tok-9f8e7d6c5b" not in str([e.payload for e in chat.audit()])
    # a configured secret pasted into the reason never reaches the audit log or the record
    chat2 = rollback_chat(make_chat)
    chat2.command("U0ALICE", "/rollback api sev=1 impact=widespread hunter2-secret-value leaked")
    assert "hunter2-secret-value" not in str([(e.payload) for e in chat2.audit()])
    assert "[REDACTED] leaked" in chat2.audit("rollback.declared")[0].payload["reason"]
    assert "hunter2-secret-value" not in rb_message(chat2).rendered
    assert "api healthy" in thread
    assert any(m.rendered.startswith(":white_check_mark: RB-0001: api rolled back 1.4.0 -> "
                                     "1.3.0") and m.thread_ts is None for m in chat.messages)
    # every step is an audit entry with its timestamp; the command with its exit code
    steps = [(e.payload["step"], e.payload["status"]) for e in chat.audit("rollback.step")]
    assert ("Execute", "done") in steps and ("Document", "done") in steps
    [cmd] = [e for e in chat.audit("rollback.command") if e.payload["name"] == "rollback"]
    assert cmd.payload["exit_code"] == 0 and len(cmd.payload["output_sha256"]) == 64
    assert chat.audit("rollback.decided")[0].payload["within_limit"] is True
    # App Home lists the lock
    assert ":lock: api locked by RB-0001 since 2026-11-24T09:00:00Z" in _open(chat)
    # the lock: releases refused, naming the rollback, until resolved
    said = chat.command("U0ALICE", "/release start api patch")
    assert "frozen" in said.text and "RB-0001" in said.text
    said = chat.command("U0ALICE", "/rollback resolve RB-0001")
    assert "say why" in said.text
    said = chat.command("U0EVE", "/rollback resolve RB-0001 looks fine to me")
    assert "lifting a rollback lock is limited to" in said.text
    assert chat.svc.locks.frozen("api") is not None
    # a release manager (permissions.release, not permissions.rollback) lifts it
    chat.command("U0CAROL", "/rollback resolve RB-0001 bad migration reverted in 1.4.1")
    assert chat.audit("rollback.unlocked")[0].payload["reason"] == \
        "bad migration reverted in 1.4.1"
    assert "frozen" not in chat.command("U0ALICE", "/release start api patch").text
    assert "unlocked" in rb_message(chat).rendered


def test_postmortem_reminder_is_scheduled(make_chat) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", START)
    chat.clock.advance(hours=47)
    chat.run_due()
    assert not [m for m in chat.messages if "Postmortem due" in m.rendered]
    chat.clock.advance(hours=2)
    assert chat.run_due() == 1
    assert [m for m in chat.messages if m.rendered.startswith(":memo: Postmortem due for "
                                                              "RB-0001")]


def test_failing_command_stops_then_retry(make_chat) -> None:
    chat = rollback_chat(make_chat)
    (chat.tmp / "fail").write_text("")
    chat.command("U0ALICE", START)
    text = rb_message(chat).rendered
    assert ":x: 3. Execute — failed" in text and "exit 3" in text
    assert ":white_circle: 4. Verify" in text  # nothing after the failure ran
    assert not (chat.tmp / "deployed.log").exists()
    stop = [m for m in chat.messages if m.rendered.startswith(":x: RB-0001 stopped at Execute")]
    assert stop and "/rollback retry RB-0001" in stop[0].rendered
    assert "@oncall" in stop[0].rendered
    # a second, planned rollback of the product is refused with a pointer to this one (an
    # immediate one would supersede it: tests/test_rollback_supersede.py)
    said = chat.command("U0BOB", "/rollback api sev=3 impact=limited again")
    assert "api already has an active rollback RB-0001 (failed" in said.text
    assert "/rollback status RB-0001" in said.text
    (chat.tmp / "fail").unlink()
    chat.command("U0BOB", "/rollback retry RB-0001")
    assert (chat.tmp / "deployed.log").read_text() == "api 1.3.0 \n"
    assert "): done" in rb_message(chat).text
    codes = [e.payload["exit_code"] for e in chat.audit("rollback.command")
             if e.payload["name"] == "rollback"]
    assert codes == [3, 0]
    [retry] = verified(chat)["retries"]
    assert (retry["by"], retry["step"], retry["at"]) == ("U0BOB", "Execute",
                                                         "2026-11-24T09:00:00Z")


def test_timeout_kills_the_command_then_abort_keeps_the_lock(make_chat) -> None:
    chat = rollback_chat(make_chat)
    (chat.tmp / "hang").write_text("")
    edit_config(chat, "timeout: 5", "timeout: 1")
    chat.command("U0ALICE", START)
    text = rb_message(chat).rendered
    assert "timed out after 1s" in text and ":x: 3. Execute — failed" in text
    assert not (chat.tmp / "deployed.log").exists()
    said = chat.command("U0ALICE", "/rollback abort RB-0001")
    assert "say why" in said.text
    chat.command("U0ALICE", "/rollback abort RB-0001 deploying by hand instead")
    assert "): aborted" in rb_message(chat).text
    assert chat.svc.locks.frozen("api").ref == "RB-0001"
    said = chat.command("U0ALICE", "/rollback retry RB-0001")
    assert "only a stopped (failed) rollback is retried" in said.text
    chat.command("U0ALICE", "/rollback resolve RB-0001 fixed by hand")
    assert chat.svc.locks.frozen("api") is None
    rec = verified(chat)
    assert rec["status"] == "aborted" and rec["lock"]["lifted_by"] == "U0ALICE"


def test_health_check_failing_then_passing_backs_off(make_chat) -> None:
    chat = rollback_chat(make_chat)
    (chat.tmp / "health.need").write_text("3")
    t0 = chat.clock.now()
    chat.command("U0ALICE", START)
    msg = rb_message(chat)
    thread = "\n".join(m.rendered for m in chat.thread(msg))
    assert "Health check 1/4 exit 1; retrying in 2s" in thread
    assert "Health check 2/4 exit 1; retrying in 4s" in thread
    assert "healthy after 3 attempt(s)" in msg.rendered
    assert (chat.clock.now() - t0).total_seconds() == 6  # backoff 2s + 4s on the clock
    health = [e.payload["exit_code"] for e in chat.audit("rollback.command")
              if e.payload["name"].startswith("health")]
    assert health == [1, 1, 0]


def test_health_check_never_passing_stops_at_verify(make_chat) -> None:
    chat = rollback_chat(make_chat)
    (chat.tmp / "health.need").write_text("99")
    chat.command("U0ALICE", START)
    text = rb_message(chat).rendered
    assert ":x: 4. Verify — failed" in text and "health check failed 4 time(s)" in text
    (chat.tmp / "health.need").write_text("1")
    (chat.tmp / "health.count").unlink()
    chat.command("U0ALICE", "/rollback retry RB-0001")
    assert (chat.tmp / "deployed.log").read_text() == "api 1.3.0 \n"  # not re-deployed
    assert "): done" in rb_message(chat).text


def test_unauthorised_requester_and_bad_input(make_chat) -> None:
    chat = rollback_chat(make_chat)
    said = chat.command("U0CAROL", START)
    assert "`/rollback start` is limited to" in said.text
    assert chat.audit("command.refused")[0].actor == "U0CAROL"
    assert not [m for m in chat.messages if m.rendered.startswith("== Rollback")]
    said = chat.command("U0ALICE", "/rollback api sev=9 impact=widespread x")
    assert "severity='9' must be one of critical" in said.text
    said = chat.command("U0ALICE", "/rollback web sev=1 impact=widespread x")
    assert "web" in said.text and "known: api" in said.text
    said = chat.command("U0ALICE", "/rollback api sev=1 impact=widespread to=")
    assert "a reason is required" in said.text
    said = chat.command("U0ALICE", "/rollback status RB-0042")
    assert "RB-0042" in said.text


def test_two_racing_rollbacks_of_one_product_exactly_one_runs(make_chat) -> None:
    chat = rollback_chat(make_chat)
    (chat.tmp / "slow").write_text("")
    gate = threading.Barrier(2)

    def go(user: str) -> None:
        gate.wait()
        chat.sender.command(user, START)

    threads = [threading.Thread(target=go, args=(u,)) for u in ("U0ALICE", "U0BOB")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    chat.local.wait_idle()
    assert (chat.tmp / "deployed.log").read_text() == "api 1.3.0 \n"
    assert len(chat.audit("rollback.declared")) == 1
    [refused] = [e for e in chat.audit("rollback.refused")]
    assert refused.payload["active"] == "RB-0001"
    assert len([m for m in chat.messages if m.rendered.startswith("== Rollback")]) == 1


def test_bot_killed_mid_rollback_stops_it_on_restart(tmp_path, make_chat) -> None:
    """A real crash: the console bot is SIGKILLed while the rollback command runs."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.cli import ROOT
    from tests.rollback_fixtures import GROUPS, prepare, rollback_config

    work = tmp_path / "bot"
    work.mkdir()
    prepare(work)
    (work / "relbot.yml").write_text(rollback_config())
    (work / "hang").write_text("")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "console", "--config",
                             str(work / "relbot.yml"), "--db", str(work / "relbot.db"),
                             "--clock", "2026-11-24T09:00:00Z"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env, text=True)
    assert proc.stdin is not None
    proc.stdin.write(START + "\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 60
    while not (work / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (work / "started").exists(), "the rollback command never started"
    proc.kill()                                    # the bot dies mid-command
    proc.wait()
    os.killpg(int((work / "started").read_text()), signal.SIGKILL)   # and its deploy child

    from tests.harness import Chat

    chat = Chat(work, rollback_config(), groups=GROUPS)   # restart on the same database
    try:
        # the lease taken at 09:00:00 is only 60 s long: still live, so nothing happens yet
        assert not [m for m in chat.messages if "interrupted" in m.rendered]
        chat.clock.advance(seconds=61)
        chat.run_due()
        stop = [m for m in chat.messages if m.rendered.startswith(":x: RB-0001 stopped at "
                                                                 "Execute: interrupted")]
        assert stop and "/rollback retry RB-0001" in stop[0].rendered
        (work / "hang").unlink()
        chat.command("U0ALICE", "/rollback retry RB-0001")
        assert (work / "deployed.log").read_text() == "api 1.3.0 \n"
        said = chat.command("U0ALICE", "/rollback status RB-0001")
        assert "status: done" in said.text
    finally:
        chat.close()


def test_output_is_streamed_into_one_thread_message(make_chat) -> None:
    chat = rollback_chat(make_chat)
    (chat.tmp / "slow").write_text("")      # the script pauses 1 s before its last line
    chat.command("U0ALICE", START)
    [out] = [m for m in chat.thread(rb_message(chat)) if m.rendered.startswith("`./deploy.sh")]
    first = [c for c in chat.api.calls("chat.postMessage")
             if "deploy.sh" in str(c.params.get("text"))][0]
    assert "done" not in first.params["text"]           # posted while the command still ran
    assert out.edits >= 1
    assert re.search(r"exit 0 · output sha256 [0-9a-f]{12}$", out.rendered)
    assert "done" in out.rendered
