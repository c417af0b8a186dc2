"""The release workflow through signed Slack commands and buttons (real repos, real SQLite)."""

from __future__ import annotations

import threading
from pathlib import Path

import yaml

from bot.git import git
from bot.release import evidence as ev
from bot.release import service as rs
from tests.test_release_fixtures import commit, config, jump, make_repo


def _ready_repo(tmp_path: Path, msgs: tuple[str, ...] = ("feat: users endpoint",
                                                         "fix: null deref")) -> Path:
    return make_repo(tmp_path, msgs=msgs, then=(("chore: bump 1.3.0", (
        ("pyproject.toml", 'version = "1.3.0"'),
        ("CHANGELOG.md", "# Changelog\n\n## 1.3.0\n- users"))),))


def test_start_proposes_bump_and_posts_one_message(tmp_path: Path, make_chat) -> None:
    repo = _ready_repo(tmp_path)
    chat = make_chat(config(repo))
    said = chat.command("U0ALICE", "/release start api")
    assert "Started api 1.3.0 (minor): proposed minor from:" in said.text
    assert "feat: users endpoint" in said.text
    [msg] = [m for m in chat.messages if m.rendered.startswith("== Release api 1.3.0")]
    assert "RL-03 Changelog updated: pass" in msg.rendered
    assert "RL-04 Version bumped: pass" in msg.rendered
    assert "RL-07 Rollback tested: n/a" in msg.rendered
    [start] = [e for e in chat.audit("release.start") if e.action == "release.start"]
    assert start.payload["cadence"] == "bi-weekly"


def test_explicit_version_must_exceed_last(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, tag="v1.3.0", msgs=("fix: a",))
    chat = make_chat(config(repo))
    said = chat.command("U0ALICE", "/release start api 1.2.0")
    assert "version 1.2.0 must be greater than the last release 1.3.0 of api" in said.text


def test_advance_blocked_with_reason_then_buttons(tmp_path: Path, make_chat) -> None:
    repo = _ready_repo(tmp_path)
    chat = make_chat(config(repo), groups={"release-managers": ["U0CAROL"]})
    chat.command("U0ALICE", "/release start minor")
    said = chat.command("U0ALICE", "/release advance")
    assert "cannot leave Feature Freeze: RL-01 All PRs merged is pending" in said.text
    assert "Confirm button" in said.text
    msg = [m for m in chat.messages if m.rendered.startswith("== Release api")][0]
    # unauthorised user's click is refused and changes nothing
    chat.click("U0DAVE", msg, "release:check:RL-01", "1:RL-01")
    row = rs.find(chat.svc, "1.3.0")
    assert row.checks["RL-01"].result == "pending"
    assert chat.audit("release.check.refused")[0].actor == "U0DAVE"
    chat.click("U0CAROL", msg, "release:check:RL-01", "1:RL-01")
    assert rs.find(chat.svc, "1.3.0").checks["RL-01"].actor == "U0CAROL"
    assert "at RC" in chat.command("U0ALICE", "/release advance 1.3.0").text
    said = chat.command("U0ALICE", "/release advance")
    assert "RL-08 Release notes drafted is pending" in said.text
    said = chat.command("U0BOB", "/release notes")
    notes = (repo / "release-notes" / "v1.3.0.md").read_text()
    assert "## Features\n\n- users endpoint" in notes and "## Fixes\n\n- null deref" in notes
    data = yaml.safe_load((repo / "release-notes" / "v1.3.0.yaml").read_text())
    assert data["sections"]["Features"][0]["author"] == "relbot tests"
    assert len(data["sections"]["Features"][0]["sha"]) == 40 and data["generated_at"]
    assert "Validation" in chat.command("U0ALICE", "/release advance").text
    said = chat.command("U0ALICE", "/release advance")
    for cid in ("RL-02", "RL-05", "RL-06"):
        assert cid in said.text
    assert "RL-07" not in said.text
    # the starter may not confirm RL-06
    chat.click("U0ALICE", msg, "release:check:RL-06", "1:RL-06")
    assert rs.find(chat.svc, "1.3.0").checks["RL-06"].result == "pending"
    for cid in ("RL-02", "RL-05", "RL-06"):
        chat.click("U0BOB", msg, f"release:check:{cid}", f"1:{cid}")
    chat.command("U0ALICE", "/release advance")
    assert rs.find(chat.svc, "1.3.0").step == "Execution"
    # one message, updated in place
    assert len([m for m in chat.messages if m.rendered.startswith("== Release api")]) == 1
    assert chat.api.calls("chat.update")
    assert chat.thread(msg)


def test_major_requires_rl07_and_waive(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat!: new API",))
    chat = make_chat(config(repo))
    said = chat.command("U0ALICE", "/release start api")
    assert "2.0.0 (major)" in said.text
    row = rs.find(chat.svc, "2.0.0")
    assert row.checks["RL-07"].result == "pending"
    jump(chat.svc, "2.0.0", "Validation")
    said = chat.command("U0ALICE", "/release advance")
    assert "RL-07 Rollback tested is pending" in said.text
    chat.command("U0ALICE", "/release waive RL-07 tested in staging drill 2026-11-20")
    row = rs.find(chat.svc, "2.0.0")
    assert row.checks["RL-07"].result == "waived"
    assert "staging drill" in row.checks["RL-07"].evidence


def test_command_checks_decide_with_evidence(tmp_path: Path, make_chat) -> None:
    repo = _ready_repo(tmp_path)
    extra = ('      checks:\n        RL-01: ["sh", "-c", "echo all merged"]\n'
             '        RL-02: ["sh", "-c", "echo gate red; exit 3"]\n')
    chat = make_chat(config(repo, product_extra=extra))
    chat.command("U0ALICE", "/release start minor")
    row = rs.find(chat.svc, "1.3.0")
    assert row.checks["RL-01"].result == "pass" and "all merged" in row.checks["RL-01"].evidence
    assert row.checks["RL-02"].result == "fail" and "exit 3" in row.checks["RL-02"].evidence


def test_builtin_checks_fail_then_pass(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("fix: a",))
    chat = make_chat(config(repo))
    chat.command("U0ALICE", "/release start api")
    row = rs.find(chat.svc, "1.2.1")
    assert row.checks["RL-03"].result == "fail" and row.checks["RL-04"].result == "fail"
    (repo / "CHANGELOG.md").write_text("# Changelog\n\n## [1.2.1]\n- a\n")
    (repo / "pyproject.toml").write_text('version = "1.2.1"\n')
    chat.command("U0ALICE", "/release check")      # uncommitted edits do not count
    row = rs.find(chat.svc, "1.2.1")
    assert row.checks["RL-03"].result == "fail" and row.checks["RL-04"].result == "fail"
    sha = commit(repo, "chore: bump 1.2.1", {"CHANGELOG.md": "# Changelog\n\n## [1.2.1]\n- a",
                                             "pyproject.toml": 'version = "1.2.1"'})
    said = chat.command("U0ALICE", "/release check")
    row = rs.find(chat.svc, "1.2.1")
    assert row.checks["RL-03"].result == "pass" and row.checks["RL-04"].result == "pass"
    assert row.commit == sha and row.checks["RL-04"].commit == sha
    assert f"since the checks ran: they were stale and were re-run on {sha[:7]}" in said.text


def test_two_starts_of_the_same_version_one_wins(tmp_path: Path, make_chat) -> None:
    repo = _ready_repo(tmp_path)
    chat = make_chat(config(repo))
    results: list[str] = []

    def go(user: str) -> None:
        results.append(chat.command(user, "/release start api 1.3.0").text)

    ts = [threading.Thread(target=go, args=(u,)) for u in ("U0ALICE", "U0BOB")]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert any("cannot start api 1.3.0" in r for r in results), results
    assert [e.action for e in chat.audit("release.start")].count("release.start") == 1
    assert len(chat.audit("release.start.refused")) == 1


def test_frozen_product_refuses_start(tmp_path: Path, make_chat) -> None:
    repo = _ready_repo(tmp_path)
    chat = make_chat(config(repo))
    chat.svc.locks.freeze("api", "RB-0007", "incident 42", "U0BOB")
    said = chat.command("U0ALICE", "/release start minor")
    assert "api is frozen by rollback RB-0007 since" in said.text and "incident 42" in said.text
    assert "/rollback resolve RB-0007 REASON" in said.text


def test_abort_and_evidence_verify(tmp_path: Path, make_chat) -> None:
    repo = _ready_repo(tmp_path)
    chat = make_chat(config(repo))
    chat.command("U0ALICE", "/release start minor")
    chat.command("U0BOB", "/release notes")
    said = chat.command("U0ALICE", "/release evidence 1.3.0")
    rec = yaml.safe_load(said.text.split("```")[1])
    assert rec["version"] == "1.3.0" and rec["product"] == "api"
    assert rec["notes_digest"] and rec["audit"]["first_seq"] < rec["audit"]["last_seq"]
    assert ev.verify_evidence(chat.svc.audit, rec) == []
    tampered = {**rec, "checks": [{**c, "result": "pass"} if c["id"] == "RL-01" else c
                                  for c in rec["checks"]]}
    tampered["checks"][0]["audit_seq"] = rec["checks"][2]["audit_seq"]
    assert ev.verify_evidence(chat.svc.audit, tampered)
    chat.command("U0ALICE", "/release abort 1.3.0 security issue found")
    row = rs.find(chat.svc, "1.3.0")
    assert row.status == "aborted" and row.reason == "security issue found"
    # the aborted version is not reused; the answer names the next one
    said = chat.command("U0ALICE", "/release start minor")
    assert ("cannot start api 1.3.0: it was aborted and a version is not reused; start the "
            "next one: `/release start api 1.3.1`") in said.text
    # after abort a new release of the product may start
    assert "Started" in chat.command("U0ALICE", "/release start 1.3.1").text


def _cleared_release(make_chat, repo: Path, advances: int):
    """Release 1.3.0 (tagging on) with its manual checks waived and notes drafted, moved on
    ``advances`` steps."""
    chat = make_chat(config(repo, product_extra="      tag: true\n"))
    chat.command("U0ALICE", "/release start 1.3.0")
    for cid in ("RL-01", "RL-02", "RL-05", "RL-06"):
        chat.command("U0BOB", f"/release waive {cid} covered by CI")
    chat.command("U0BOB", "/release notes")
    for _ in range(advances):
        chat.command("U0ALICE", "/release advance")
    return chat


def test_tag_at_execution_pushed_and_refused_if_exists(tmp_path: Path, make_chat) -> None:
    repo = _ready_repo(tmp_path, msgs=("fix: a",))
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    git("remote", "add", "origin", str(remote), cwd=repo)
    chat = _cleared_release(make_chat, repo, advances=3)
    assert rs.find(chat.svc, "1.3.0").step == "Execution"
    git("tag", "v1.3.0", cwd=repo)
    said = chat.command("U0ALICE", "/release advance")
    assert "tag v1.3.0 already exists" in said.text
    git("tag", "-d", "v1.3.0", cwd=repo)
    chat.command("U0ALICE", "/release advance")
    assert rs.find(chat.svc, "1.3.0").step == "Post-Release"
    assert "v1.3.0" in git("tag", "--list", cwd=remote)
    assert git("cat-file", "-t", "v1.3.0", cwd=remote).strip() == "tag"


def test_a_rollback_lock_stops_a_running_release_before_execution(tmp_path: Path,
                                                                 make_chat) -> None:
    repo = _ready_repo(tmp_path, msgs=("fix: a",))
    chat = _cleared_release(make_chat, repo, advances=2)
    assert rs.find(chat.svc, "1.3.0").step == "Validation"
    chat.svc.locks.freeze("api", "RB-0003", "error rate", "U0BOB")
    said = chat.command("U0ALICE", "/release advance")
    assert "api is frozen by rollback RB-0003" in said.text
    assert "stays at Validation until then (it may not enter Execution)" in said.text
    assert rs.find(chat.svc, "1.3.0").step == "Validation"
    assert chat.audit("release.advance.blocked")[-1].payload["frozen"] == "error rate"
    status = chat.command("U0ALICE", "/release status").text
    assert ":lock: api is frozen by rollback RB-0003" in status
    assert "will not enter Execution until then" in status and "Ready to leave" not in status
    chat.svc.locks.unfreeze("api")
    chat.command("U0ALICE", "/release advance")
    assert rs.find(chat.svc, "1.3.0").step == "Execution"
    chat.svc.locks.freeze("api", "RB-0004", "again", "U0BOB")
    assert "may not enter Post-Release" in chat.command("U0ALICE", "/release advance").text
    assert not git("tag", "--list", "v1.3.0", cwd=repo).strip()     # nothing tagged
    chat.svc.locks.unfreeze("api")
    chat.command("U0ALICE", "/release advance")
    chat.svc.locks.freeze("api", "RB-0005", "after shipping", "U0BOB")
    assert rs.find(chat.svc, "1.3.0").step == "Post-Release"     # shipped: it may be closed
    assert "lock" not in chat.command("U0ALICE", "/release status").text
    said = chat.command("U0ALICE", "/release advance")
    assert "Internal error" not in said.text and "Released" in said.text
    assert rs.find(chat.svc, "1.3.0").status == "released"
    status = chat.command("U0ALICE", "/release status 1.3.0").text
    assert "Internal error" not in status and "status: *released*" in status


def test_without_release_permissions_anyone_may_start_and_clear(tmp_path: Path,
                                                                 make_chat) -> None:
    repo = _ready_repo(tmp_path)
    chat = make_chat(config(repo).replace(
        'permissions:\n  release: [U0ALICE, U0BOB, "@release-managers"]\n', ""))
    assert "Started api 1.3.0" in chat.command("U0DAVE", "/release start minor").text
    said = chat.command("U0DAVE", "/release advance")
    assert "RL-01 All PRs merged is pending — cleared by anyone" in said.text


def test_a_relative_repo_is_resolved_against_the_config_file(tmp_path: Path,
                                                             make_chat) -> None:
    repo = _ready_repo(tmp_path)
    chat = make_chat(config(repo).replace(f"repo: {repo}", "repo: ../api"))
    assert "Started api 1.3.0" in chat.command("U0ALICE", "/release start minor").text
