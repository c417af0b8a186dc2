"""What a requester types: free-text reasons, misspelt options, which version is the target,
partial rollbacks the command cannot do, and who may steer a rollback."""

from __future__ import annotations

from tests.rollback_fixtures import prepare, rb_message, rollback_chat, rollback_config

PLAN = "/rollback api sev=4 impact=limited"


def _declared_reason(chat) -> str:
    return chat.audit("rollback.declared")[-1].payload["reason"]


def test_reasons_are_free_text_and_bad_options_answer_in_the_ack(make_chat) -> None:
    chat = rollback_chat(make_chat)
    said = chat.command("U0ALICE", f"{PLAN} checkout won't load for customer's carts")
    assert "RB-0001" in said.text
    assert _declared_reason(chat) == "checkout won't load for customer's carts"
    chat.command("U0ALICE", "/rollback cancel RB-0001 wrong product")
    chat.command("U0ALICE", f"{PLAN} p99 latency=4s since deploy")
    assert _declared_reason(chat) == "p99 latency=4s since deploy"
    chat.command("U0ALICE", "/rollback cancel RB-0002")
    chat.command("U0ALICE", f"{PLAN} p99=4s before, p99=9s after")
    assert _declared_reason(chat) == "p99=4s before, p99=9s after"
    chat.command("U0ALICE", "/rollback cancel RB-0003")
    for line, answer in (
        ("/rollback api sevrity=1 impact=widespread down", "unknown option sevrity=; did you "
                                                            "mean severity=?"),
        ("/rollback api sev=1 sev=2 impact=widespread down", "sev= is given twice (1 and 2); "
                                                              "give it once"),
        ("/rollback api sev=1 down", "impact is required (impact=widespread|limited|minimal)"),
        ('/rollback api sev=1 impact=widespread "unbalanced quote', None),
        (f"{PLAN} at=2026-11-01T22:00 leak", "at=2026-11-01T22:00 is in the past"),
    ):
        said = chat.command("U0ALICE", line)
        if answer is None:   # a stray quote is kept, not refused: the rollback is declared
            assert "RB-0004" in said.text and _declared_reason(chat) == '"unbalanced quote'
            continue
        assert answer in said.text, line
        if "past" not in answer:  # parse errors are the ack itself, before "Declaring..."
            assert answer in said.ack and "Declaring" not in said.text
            assert "`/rollback start" in said.ack and "`/rollback status" not in said.ack
    assert chat.audit("command.usage")[-1].payload["error"].startswith("impact is required")
    assert len(chat.audit("rollback.declared")) == 4


def test_the_target_skips_versions_already_rolled_back(make_chat) -> None:
    chat = make_chat(rollback_config(), groups={"oncall": ["U0DAVE"]})
    prepare(chat.tmp, tags=("v1.2.0", "v1.3.0", "v1.4.0", "v1.4.1"))
    imm = "/rollback api {} sev=1 impact=widespread {}"
    chat.command("U0ALICE", imm.format("1.4.0", "bad migration"))
    chat.command("U0ALICE", "/rollback resolve RB-0001 fixed forward in 1.4.1")
    said = chat.command("U0ALICE", imm.format("1.4.1", "the fix broke checkout"))
    assert ("Target 1.3.0 (last known good release before 1.4.1, from tags in repo and "
            "release records; skipped 1.4.0 (rolled back by RB-0001))") in said.text
    chat.command("U0ALICE", "/rollback resolve RB-0002 reverted")
    # no version: the newest release not already rolled back is the bad one
    chat.command("U0ALICE", imm.format("", "1.3.0 leaks memory too"))
    assert rb_message(chat).rendered.startswith("== Rollback RB-0003: api 1.3.0 → 1.2.0 ==")
    assert (chat.tmp / "deployed.log").read_text().splitlines() == [
        "api 1.3.0 ", "api 1.3.0 ", "api 1.2.0 "]
    chat.command("U0ALICE", "/rollback resolve RB-0003 ok")
    said = chat.command("U0ALICE", imm.format("", "1.2.0 too?"))   # 1.2.0 runs: nothing older
    assert "no release of api before 1.2.0 is known" in said.text
    said = chat.command("U0ALICE", imm.format("9.9.9", "typo in the version"))
    assert ("9.9.9 is not a known release of api (looked at tags in repo and release "
            "records); check the version, or name the target yourself with to=VERSION"
            ) in said.text
    assert len((chat.tmp / "deployed.log").read_text().splitlines()) == 3
    assert chat.audit("command.refused")[-1].payload["reason"].startswith("9.9.9 is not")


def test_partial_is_refused_when_the_command_cannot_name_components(make_chat) -> None:
    config = rollback_config().replace('"{{components}}"', "").replace(
        ', "{components}"]', "]").replace("      components: [api, worker]\n", "")
    chat = rollback_chat(make_chat, config)
    said = chat.command("U0ALICE", "/rollback api sev=2 impact=limited components=worker 5xx")
    assert ("api's rollback command (./deploy.sh {product} {version}) has no {component} or "
            "{components} placeholder, so it would roll back the whole product, not only "
            "worker") in said.text
    assert not chat.audit("rollback.declared")
    assert not (chat.tmp / "deployed.log").exists()


def test_only_permitted_users_steer_a_rollback(make_chat) -> None:
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", f"{PLAN} slow memory leak")
    for line in ("/rollback cancel RB-0001", "/rollback retry RB-0001",
                 "/rollback abort RB-0001 not needed", f"{PLAN} another"):
        said = chat.command("U0EVE", line)
        assert ":no_entry: `/rollback" in said.text and "is limited to" in said.text, line
    assert len(chat.audit("command.refused")) == 4
    assert "*Status*: awaiting-approval" in rb_message(chat).rendered


def test_partial_and_to_rollbacks_leave_the_right_version_running(make_chat) -> None:
    imm = "/rollback api sev=1 impact=widespread {}"
    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", imm.format("components=worker only the worker is bad"))
    chat.command("U0ALICE", "/rollback resolve RB-0001 ok")
    chat.command("U0ALICE", imm.format("now the api too"))     # api itself still runs 1.4.0
    assert rb_message(chat).rendered.startswith("== Rollback RB-0002: api 1.4.0 → 1.3.0 ==")

    chat = rollback_chat(make_chat)
    chat.command("U0ALICE", imm.format("to=1.2.0 the bug is older than 1.4.0"))
    chat.command("U0ALICE", "/rollback resolve RB-0001 ok")
    said = chat.command("U0ALICE", imm.format("still bad"))      # 1.2.0 runs: nothing older
    assert ("no release of api before 1.2.0 is known (looked at tags in repo and release "
            "records)") in said.text
    assert (chat.tmp / "deployed.log").read_text().splitlines() == ["api 1.2.0 "]
