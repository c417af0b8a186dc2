"""Modals: /rollback and /release start with no arguments, as Slack drives them."""

from __future__ import annotations

from pathlib import Path

from tests.rollback_fixtures import rb_message, rollback_chat
from tests.test_release_fixtures import config as release_config
from tests.test_release_flow import _ready_repo


def test_rollback_modal_shows_the_cell_live_and_declares(make_chat) -> None:
    chat = rollback_chat(make_chat)
    said = chat.command("U0ALICE", "/rollback")
    assert said.ack == "" and not said.posted
    [modal] = chat.api.state.modals
    assert modal.user == "U0ALICE" and modal.view["callback_id"] == "rollback:modal"
    assert "Choose severity and impact" in modal.rendered
    chat.choose("U0ALICE", 1, "severity", "high")
    assert "Choose severity and impact" in chat.api.state.modals[0].rendered
    chat.choose("U0ALICE", 1, "impact", "limited")
    text = chat.api.state.modals[0].rendered
    assert "Matrix cell *high x limited* → *partial*, waits for 1 approval(s)" in text
    chat.choose("U0ALICE", 1, "severity", "critical")
    assert "*critical x limited* → *immediate*, runs at once (RB-IMM), on-call notified" in \
        chat.api.state.modals[0].rendered
    assert len(chat.api.calls("views.update")) == 3

    # validation errors come back inside the modal, naming the field; nothing is declared
    said = chat.submit("U0ALICE", 1, version="1.4", to="1.3.0", reason="")
    assert said.http.json["response_action"] == "errors"
    errors = said.http.json["errors"]
    assert errors["version"] == "'1.4' is not a version like 1.3.0"
    assert errors["reason"] == "reason is required"
    assert chat.api.state.modals[0].open and not chat.audit("rollback.declared")

    said = chat.submit("U0ALICE", 1, version="1.4.0", to="1.3.0",
                       reason="error rate 40% after the deploy")
    assert said.http.body == "" and not chat.api.state.modals[0].open
    [declared] = chat.audit("rollback.declared")
    assert declared.payload["severity"] == "critical" and declared.payload["to"] == "1.3.0"
    assert rb_message(chat).rendered.startswith("== Rollback RB-0001: api 1.4.0 → 1.3.0 ==")
    assert "RB-0001: severity critical x impact limited -> immediate" in said.text
    [cmd] = [e for e in chat.audit("command") if e.action == "command"]
    assert cmd.payload["via"] == "modal"


def test_rollback_modal_partial_cell_needs_components(make_chat) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", "/rollback")
    said = chat.submit("U0ALICE", 1, severity="high", impact="limited", reason="worker leak")
    assert "high x limited is a partial rollback: name the components (api, worker)" == \
        said.http.json["errors"]["components"]
    said = chat.submit("U0ALICE", 1, components="db", reason="worker leak")
    assert said.http.json["errors"]["components"] == "'db' is not one of api, worker"


def test_rollback_modal_needs_the_rollback_permission(make_chat) -> None:
    chat = rollback_chat(make_chat)
    said = chat.command("U0MALLORY", "/rollback")
    assert "is limited to" in said.ack and not chat.api.state.modals


def test_release_start_modal_shows_the_proposal_and_starts(tmp_path: Path, make_chat) -> None:
    repo = _ready_repo(tmp_path)
    chat = make_chat(release_config(repo))
    chat.command("U0ALICE", "/release start")
    [modal] = chat.api.state.modals
    text = modal.rendered
    assert "Proposed *minor* → *1.3.0* because:" in text and "feat: users endpoint" in text
    said = chat.submit("U0ALICE", 1, version="1.2.0")
    assert said.http.json["errors"] == {
        "version": "version 1.2.0 must be greater than the last release 1.2.0 of api"}
    said = chat.submit("U0ALICE", 1, version="")
    assert said.http.body == ""
    assert "Started api 1.3.0 (minor): proposed minor from:" in said.text
    assert [m for m in chat.messages if m.rendered.startswith("== Release api 1.3.0")]
