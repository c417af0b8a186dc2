"""Rollbacks page on-call through PagerDuty's Events API v2 (a loopback fake recording
every event), beside the Slack mention."""

from __future__ import annotations

from tests.integration_fixtures import PD_KEY
from tests.rollback_fixtures import rb_message, rollback_chat, rollback_config, verified

START = "/rollback api sev=1 impact=widespread error rate 40% after 1.4.0"


def _paging(pd, extra: str = "") -> str:  # type: ignore[no-untyped-def]
    return ("  paging:\n    pagerduty:\n      routing_key: env:PD_ROUTING_KEY\n"
            f"      api_url: {pd.url}\n      retry_after: 1m\n{extra}")


def _chat(make_chat, pd, extra: str = "", matrix: str = ""):  # type: ignore[no-untyped-def]
    return rollback_chat(make_chat, rollback_config(rollback_extra=matrix + _paging(pd, extra)))


def _thread(chat) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(m.rendered for m in chat.thread(rb_message(chat)))


def test_immediate_rollback_triggers_then_resolves_on_completion(make_chat, pagerduty) -> None:
    chat = _chat(make_chat, pagerduty)
    chat.command("U0ALICE", START)
    trigger, resolve = pagerduty.events()
    assert trigger["routing_key"] == PD_KEY and trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == "RB-0001"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "relbot"
    assert trigger["payload"]["summary"].startswith(
        "RB-0001: api rollback 1.4.0 -> 1.3.0 (critical, widespread): immediate rollback "
        "declared by U0ALICE: error rate 40% after 1.4.0")
    assert trigger["payload"]["custom_details"]["procedure"] == "RB-IMM"
    assert resolve == {"routing_key": PD_KEY, "event_action": "resolve",
                       "dedup_key": "RB-0001"}
    assert pagerduty.incidents == {"RB-0001": "resolved"}
    thread = _thread(chat)
    assert "On-call: <!subteam^" in thread  # the Slack mention stays
    assert ":pager: PagerDuty incident RB-0001 triggered: immediate rollback declared" in thread
    assert ":pager: PagerDuty incident RB-0001 resolved: completed: api rolled back" in thread
    assert [e.payload["action"] for e in chat.audit("rollback.page")] == ["trigger", "resolve"]
    rec = verified(chat)
    assert [p["action"] for p in rec["pages"]] == ["trigger", "resolve"]
    from bot.rollback.evidence import verify_evidence
    rec["pages"].pop()  # a record hiding that the incident was resolved does not verify
    assert any(x.startswith("pages (action, dedup_key, audit_seq)")
               for x in verify_evidence(chat.svc.audit, rec))
    # resolving the lock later sends nothing more: the incident is closed already
    chat.command("U0CAROL", "/rollback resolve RB-0001 fixed in 1.4.1")
    assert len(pagerduty.events()) == 2
    assert PD_KEY not in str([e.payload for e in chat.audit()])
    assert PD_KEY not in str([c.params for c in chat.api.state.calls])


def test_a_failed_rollback_pages_and_resolve_closes_the_incident(make_chat, pagerduty) -> None:
    chat = _chat(make_chat, pagerduty)
    (chat.tmp / "fail").write_text("")
    chat.command("U0ALICE", START)
    assert [e["event_action"] for e in pagerduty.events()] == ["trigger", "trigger"]
    assert "stopped at Execute" in pagerduty.events()[1]["payload"]["summary"]
    assert pagerduty.incidents == {"RB-0001": "triggered"}
    chat.command("U0ALICE", "/rollback abort RB-0001 deploying by hand")
    assert len(pagerduty.events()) == 2  # aborted: the product is still locked, still paged
    chat.command("U0ALICE", "/rollback resolve RB-0001 fixed by hand")
    assert pagerduty.events()[-1]["event_action"] == "resolve"
    assert "resolved by U0ALICE: fixed by hand" in _thread(chat)
    assert pagerduty.incidents == {"RB-0001": "resolved"}


def test_escalation_pages_with_the_matrix_severity(make_chat, pagerduty) -> None:
    matrix = ("  matrix:\n    high:\n"
              "      minimal: {type: immediate, approvals: 1, notify_oncall: true}\n")
    chat = _chat(make_chat, pagerduty, matrix=matrix)
    chat.command("U0ALICE", "/rollback api sev=high impact=minimal checkout broken")
    assert pagerduty.events() == []  # waits for an approval: nobody paged yet
    chat.clock.advance(minutes=5)
    chat.run_due()
    [ev] = pagerduty.events()
    assert ev["event_action"] == "trigger" and ev["payload"]["severity"] == "error"
    assert "no decision 5 minutes after declaration (escalated)" in ev["payload"]["summary"]
    chat.command("U0ALICE", "/rollback cancel RB-0001 false alarm")
    assert pagerduty.events()[-1]["event_action"] == "resolve"


def test_failed_pages_are_audited_said_and_retried(make_chat, pagerduty) -> None:
    chat = _chat(make_chat, pagerduty)
    (chat.tmp / "fail").write_text("")
    for _ in range(4):  # declared and stopped: each attempt and its one quick retry fail
        pagerduty.fail_next("POST", "/v2/enqueue", 503, {"status": "unavailable"})
    chat.command("U0ALICE", START)
    assert rb_message(chat).rendered.count("failed") >= 1  # the rollback did not wait
    failed = chat.audit("rollback.page.failed")
    assert [(e.payload["action"], e.payload["attempt"]) for e in failed] == \
        [("trigger", 1), ("trigger", 1)]
    assert "answered 503" in failed[0].payload["error"]
    assert failed[0].payload["next_attempt"] == "2026-11-24T09:01:01Z"  # after a 1 s retry
    thread = _thread(chat)
    assert ":warning: PagerDuty trigger for RB-0001 failed (PagerDuty: POST /v2/enqueue " \
           "answered 503" in thread and "(attempt 2 of 6)" in thread
    assert pagerduty.incidents == {}
    chat.clock.advance(minutes=1)
    chat.run_due()
    assert [e["event_action"] for e in pagerduty.events()[-2:]] == ["trigger", "trigger"]
    assert pagerduty.incidents == {"RB-0001": "triggered"}
    assert _thread(chat).count(":pager: PagerDuty incident RB-0001 triggered (attempt 2)") == 2
    assert [p["attempt"] for p in verified(chat)["pages"]] == [2, 2]


def test_a_trigger_not_yet_sent_is_dropped_once_the_rollback_is_over(make_chat,
                                                                      pagerduty) -> None:
    chat = _chat(make_chat, pagerduty)
    for _ in range(2):
        pagerduty.fail_next("POST", "/v2/enqueue", 503, {"status": "unavailable"})
    chat.command("U0ALICE", START)  # the trigger fails; the rollback completes meanwhile
    assert chat.audit("rollback.completed")
    n = len(pagerduty.requests)
    chat.clock.advance(minutes=1)
    chat.run_due()
    assert len(pagerduty.requests) == n and pagerduty.incidents == {}
    assert chat.audit("rollback.page.dropped")[0].payload["status"] == "done"
    assert "not re-sent: the rollback is done" in _thread(chat)


def test_giving_up_after_the_configured_retries_is_said(make_chat, pagerduty,
                                                        monkeypatch) -> None:
    monkeypatch.setenv("PD_ROUTING_KEY", "not-the-right-key-0000")
    chat = _chat(make_chat, pagerduty, "      retries: 1\n")
    (chat.tmp / "fail").write_text("")  # stays stopped: its pages stay wanted
    chat.command("U0ALICE", START)
    first = [e for e in chat.audit("rollback.page.failed") if e.payload["action"] == "trigger"]
    assert "answered 400 (Invalid routing key): check rollback.paging.pagerduty.routing_key" \
        in first[0].payload["error"]
    chat.clock.advance(minutes=1)
    chat.run_due()
    assert "failed 2 times" in _thread(chat) and "page on-call by hand" in _thread(chat)
    assert "not-the-right-key-0000" not in _thread(chat)
    assert "not-the-right-key-0000" not in str([e.payload for e in chat.audit()])


def test_no_paging_configured_sends_nothing(make_chat, pagerduty) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", START)
    assert pagerduty.requests == []
    assert "PagerDuty" not in _thread(chat)


def test_a_superseded_rollbacks_incident_closes_with_the_lock(make_chat, pagerduty) -> None:
    chat = _chat(make_chat, pagerduty)
    (chat.tmp / "fail").write_text("x")
    chat.command("U0ALICE", START)
    (chat.tmp / "fail").unlink()
    chat.command("U0BOB", "/rollback api sev=2 impact=widespread still 500s")
    assert pagerduty.incidents == {"RB-0001": "triggered", "RB-0002": "resolved"}
    chat.command("U0CAROL", "/rollback resolve RB-0002 fixed forward in 1.4.1")
    assert pagerduty.incidents == {"RB-0001": "resolved", "RB-0002": "resolved"}
    assert pagerduty.events()[-1] == {"routing_key": PD_KEY, "event_action": "resolve",
                                      "dedup_key": "RB-0001"}
