"""Checklist ticks, /rollback status, and the evidence record checked against the audit log."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml

from tests.cli import relbot
from tests.rollback_fixtures import rb_message, rollback_chat, verified

START = "/rollback api sev=1 impact=widespread error rate 40% after 1.4.0"


def _boxes(msg, name: str) -> set[str]:
    for b in msg.blocks:
        for el in b.get("elements") or []:
            if el.get("action_id") == f"rollback:checklist:{name}":
                return {o["value"] for o in el.get("initial_options") or []}
    raise AssertionError(f"no {name} checklist")


def test_checklist_ticks_are_authorised_and_audited(make_chat) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", START)
    msg = rb_message(chat)
    chat.tick("U0DAVE", msg, "rollback:checklist:pre", ["pre-1", "pre-3"])  # on-call member
    msg = rb_message(chat)
    assert _boxes(msg, "pre") == {"pre-1", "pre-3"}
    assert "*Pre-rollback checklist* (2/5)" in msg.rendered
    assert "[x] Incident declared; severity and impact confirmed" in msg.rendered
    [e] = chat.audit("rollback.checklist")
    assert (e.actor, e.payload["ticked"], e.subject) == ("U0DAVE", ["pre-1", "pre-3"],
                                                          "RB-0001")
    assert any(m.rendered.startswith("<@U0DAVE> ticked Incident declared")
               and "ticked On-call and stakeholders notified" in m.rendered
               for m in chat.thread(msg))
    # unticking one is audited too
    chat.tick("U0ALICE", msg, "rollback:checklist:pre", ["pre-1"])
    assert chat.audit("rollback.checklist")[-1].payload["unticked"] == ["pre-3"]
    # someone outside permissions.rollback and on-call: refused, audited, boxes unchanged
    said = chat.tick("U0CAROL", msg, "rollback:checklist:post", ["post-1"])
    assert "limited to" in said.text
    assert chat.audit("rollback.checklist.refused")[0].actor == "U0CAROL"
    assert _boxes(rb_message(chat), "post") == set()


def test_status_and_evidence_cli_verified_against_audit_log(tmp_path: Path, make_chat) -> None:
    chat = rollback_chat(make_chat)
    (chat.tmp / "health.need").write_text("2")
    chat.command("U0ALICE", START)
    chat.tick("U0BOB", rb_message(chat), "rollback:checklist:post", ["post-1", "post-5"])
    said = chat.command("U0CAROL", "/rollback status RB-0001")   # anyone may read it
    assert said.text.count("```") == 2
    rec = yaml.safe_load(said.text.split("```")[1])
    assert rec["decision"]["matrix_cell"] == "critical x widespread"
    assert rec["decision"]["seconds_to_decision"] == 0
    assert [c["exit_code"] for c in rec["verification"]] == [1, 0]
    assert rec["timings"]["total_seconds"] == 2  # the 2s health-check backoff
    assert chat.audit("rollback.evidence")[-1].actor == "U0CAROL"   # who read it, audited

    base = ("--config", str(chat.config_path), "--db", str(chat.db_path))
    # --config/--db are accepted after the subcommand too, as the issue spells the command
    r = relbot("rollback", "evidence", "RB-0001", "--format", "yaml", *base)
    assert r.returncode == 0, r.stderr
    rec = yaml.safe_load(r.stdout)
    assert rec["trigger"] == {"requester": "U0ALICE", "declared": "2026-11-24T09:00:00Z",
                              "severity": "critical", "impact": "widespread",
                              "reason": "error rate 40% after 1.4.0"}
    assert rec["target"]["from_version"] == "1.4.0" and rec["target"]["to_version"] == "1.3.0"
    [cmd] = rec["commands"]
    assert cmd["argv"] == ["./deploy.sh", "api", "1.3.0", ""] and cmd["exit_code"] == 0
    post = {i["item"]: i for i in rec["checklists"]["post"]}
    assert post["Health check passes"]["done"] and post["Health check passes"]["by"] == "U0BOB"
    assert [s["status"] for s in rec["steps"]] == ["done"] * 6
    assert rec["lock"]["since"] and rec["lock"]["lifted"] is None
    assert rec["audit"]["first_seq"] < rec["audit"]["last_seq"]
    assert "hunter2-secret-value" not in r.stdout

    f = tmp_path / "rb.yaml"
    f.write_text(r.stdout)
    (tmp_path / "rb-orig.yaml").write_text(r.stdout)
    r = relbot(*base, "rollback", "verify-evidence", str(f))
    assert r.returncode == 0 and r.stdout.startswith("ok: evidence for RB-0001"), r.stdout
    cmd["exit_code"] = 0
    cmd["output_sha256"] = "0" * 64          # claim different output
    f.write_text(yaml.safe_dump(rec))
    r = relbot(*base, "rollback", "verify-evidence", str(f))
    assert r.returncode == 1 and "command 'rollback'" in r.stdout
    rec = yaml.safe_load((tmp_path / "rb-orig.yaml").read_text())
    rec["verification"] = rec["verification"][1:]    # hide the failed health check
    f.write_text(yaml.safe_dump(rec))
    r = relbot(*base, "rollback", "verify-evidence", str(f))
    assert r.returncode == 1 and "a run is missing or invented" in r.stdout
    r = relbot(*base, "rollback", "evidence", "RB-0001", "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout) == yaml.safe_load(
        (tmp_path / "rb-orig.yaml").read_text())
    r = relbot(*base, "rollback", "evidence", "RB-0099")
    assert r.returncode == 2 and "RB-0099" in r.stderr
    r = relbot(*base, "rollback", "list")
    assert "RB-0001 api 1.4.0 -> 1.3.0 (RB-IMM, immediate): done" in r.stdout


def test_a_forged_record_does_not_verify(make_chat) -> None:
    from bot.rollback.evidence import verify_evidence

    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", "/rollback api sev=2 impact=limited components=worker 500s")
    chat.react("U0BOB", rb_message(chat))
    chat.tick("U0DAVE", rb_message(chat), "rollback:checklist:pre", ["pre-1", "pre-3"])
    chat.tick("U0DAVE", rb_message(chat), "rollback:checklist:pre", ["pre-1"])
    chat.tick("U0ALICE", rb_message(chat), "rollback:checklist:post", ["post-1"])
    rec = verified(chat)
    forgeries = {
        "target.to_version": lambda r: r["target"].update(to_version="1.2.0"),
        "trigger.requester": lambda r: r["trigger"].update(requester="U0BOB"),
        "trigger.severity": lambda r: r["trigger"].update(severity="low"),
        "approvals": lambda r: r["approvals"].append({"user": "U0CAROL", "at": "x"}),
        "command 'rollback'": lambda r: r["commands"][0].update(argv=["./deploy.sh", "api"]),
        "target.plan_digest": lambda r: r["target"].update(plan_digest="0" * 64),
        "lock:": lambda r: r.update(lock=None),
        "status 'aborted'": lambda r: r.update(status="aborted"),
        "step Verify & document": lambda r: r["steps"][5].update(status="failed"),
        "product": lambda r: r.update(product="web"),
        "retries": lambda r: r["retries"].append({"by": "U0BOB", "step": "Execute",
                                                  "audit_seq": 1}),
        "target.window": lambda r: r["target"].update(window="2026-11-25T02:00:00Z"),
        # a box claimed done by the on-call member, citing the entry that ticked others
        "checklist pre 'Backups / snapshots current'": lambda r: r["checklists"]["pre"][4]
        .update(done=True, by="U0DAVE", audit_seq=r["checklists"]["pre"][0]["audit_seq"]),
        # a box unticked later, still claimed done
        "checklist pre 'On-call and stakeholders notified'": lambda r: r["checklists"]["pre"][2]
        .update(done=True, by="U0DAVE", audit_seq=r["checklists"]["pre"][0]["audit_seq"]),
        # a tick hidden
        "checklist post 'Health check passes'": lambda r: r["checklists"]["post"][0]
        .update(done=False),
    }
    for says, forge in forgeries.items():
        fake = copy.deepcopy(rec)
        forge(fake)
        problems = verify_evidence(chat.svc.audit, fake)
        assert any(says in p for p in problems), (says, problems)


def test_a_record_made_before_the_lock_was_lifted_still_verifies(make_chat) -> None:
    from bot.rollback.evidence import verify_evidence

    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", START)
    archived = verified(chat)                        # exported when the rollback completed
    chat.command("U0ALICE", "/rollback resolve RB-0001 migration fixed in 1.4.1")
    assert verify_evidence(chat.svc.audit, archived) == []
    assert verified(chat)["lock"]["lifted_by"] == "U0ALICE"     # and the new one too
