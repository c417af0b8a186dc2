"""Issue 11 item 1 for releases: a release is an action (its status the step it is at), its
advances pass one Gate of named requirements that `/release status` explains, and racing
advances move it once. Signed Slack commands into the real Bolt app, real git (a bare remote
whose pre-receive hook holds a push), real SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.actions.record import Actions, SlotTaken
from bot.clock import FakeClock
from bot.git import git
from bot.release import service as rs
from storage import release
from storage.actions import ActionStore
from storage.db import Database, _split_sql
from storage.release import ReleaseStore
from tests.test_release_cli import relbot
from tests.test_release_fixtures import commit, config, make_repo

BUMP = {"pyproject.toml": 'version = "1.3.0"', "CHANGELOG.md": "# Changelog\n\n## 1.3.0\n- a"}
T0 = "2026-11-20T09:00:00Z"
OLD = [  # (id, version, step, status, steps) as the store before actions wrote them
    (1, "1.2.0", "Released", "released", {"Feature Freeze": T0, "RC": T0,
                                          "Released": "2026-11-21T09:00:00Z"}),
    (2, "1.3.0-rc.1", "RC", "aborted", {"Feature Freeze": T0, "RC": "2026-11-22T09:00:00Z"}),
    (3, "1.3.0", "Validation", "active", {"Feature Freeze": T0, "RC": T0,
                                          "Validation": "2026-11-23T09:00:00Z"}),
]


def _old_rows(c: object, sha: str) -> None:
    for rid, version, step, status, steps in OLD:
        c.execute("INSERT INTO releases(id, product, version, bump, step, status, starter, "  # type: ignore[attr-defined]
                  "commit_sha, start_commit, steps) VALUES (?, 'api', ?, 'minor', ?, ?, "
                  "'U0ALICE', ?, ?, ?)", (rid, version, step, status, sha, sha,
                                          json.dumps(steps)))


def test_an_old_database_gets_one_action_per_release(db_url: str) -> None:
    old = Database(db_url)
    old.migrate("release", release.MIGRATIONS[:3])        # what the bot before actions ran
    with old.tx() as c:
        _old_rows(c, "a" * 40)
    old.close()
    db = Database(db_url)
    st = ReleaseStore(db)                                  # start-up migrates
    assert db.version("release") == len(release.MIGRATIONS)
    assert [(r.version, r.step, r.status) for r in st.releases_of("api")] == [
        ("1.2.0", "Released", "released"), ("1.3.0-rc.1", "RC", "aborted"),
        ("1.3.0", "Validation", "active")]
    acts = Actions(ActionStore(db), FakeClock(datetime(2026, 11, 24, 9, tzinfo=UTC)))
    a = acts.get("release", "3")
    assert a is not None and (a.status, a.active, a.exclusive, a.digest) == (
        "Validation", True, "release:api", "a" * 40)
    assert (a.created, a.updated) == (T0, "2026-11-23T09:00:00Z")
    assert [(x.subject, x.active) for x in acts.with_status("release", ("released", "aborted"))
            ] == [("1", False), ("2", False)]
    with pytest.raises(SlotTaken):                         # still one active per product
        acts.create("release", "9", "Feature Freeze", exclusive="release:api")
    assert acts.move("release", "3", "Execution", only_from=["Validation"])
    db.close()
    again = Database(db_url)                               # a second start runs nothing twice
    ReleaseStore(again)
    assert len(Actions(ActionStore(again), FakeClock(T0)).with_status(
        "release", ("released", "aborted", "Execution"))) == 3
    again.close()


def test_an_old_sqlite_file_keeps_working_through_slack(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: users",))
    sha = commit(repo, "chore: release 1.3.0", BUMP)
    path = tmp_path / "old.db"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE schema_version (component TEXT PRIMARY KEY, "
                "version INTEGER NOT NULL)")
    for script in release.MIGRATIONS[:3]:
        for stmt in _split_sql(script):  # type: ignore[arg-type]
            raw.execute(stmt)
    raw.execute("INSERT INTO schema_version VALUES ('release', 3)")
    _old_rows(raw, sha)
    for cid in ("RL-01", "RL-02", "RL-03", "RL-04", "RL-05", "RL-06", "RL-07", "RL-08"):
        raw.execute("INSERT INTO release_checks(release_id, check_id, result, actor) VALUES "
                    "(3, ?, 'waived', 'U0BOB')", (cid,))
    raw.commit()
    raw.close()
    cfg = tmp_path / "relbot.yml"
    cfg.write_text(config(repo))
    r = relbot("--config", str(cfg), "db", "migrate", "--db", str(path))
    assert r.returncode == 0 and "release 3 -> 4" in r.stdout, r.stdout + r.stderr
    chat = make_chat(config(repo), database=str(path))
    text = chat.command("U0ALICE", "/release status").text
    assert "RC → *Validation* → Execution" in text and "status: *active*" in text
    said = chat.command("U0ALICE", "/release start 1.4.0")
    assert "cannot start api 1.4.0: api 1.3.0 is already active (one active release per " \
           "product)" in said.text
    assert "api 1.3.0 is now at Execution" in chat.command("U0ALICE", "/release advance").text
    assert rs.find(chat.svc, "1.3.0").steps["Execution"] == "2026-11-24T09:00:00Z"


def _with_held_pushes(tmp_path: Path, repo: Path) -> tuple[Path, Path]:
    """A bare ``origin`` whose pre-receive hook announces a push (``started``) and holds it
    until ``go`` exists."""
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    git("remote", "add", "origin", str(remote), cwd=repo)
    started, go = tmp_path / "push-started", tmp_path / "push-go"
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\ntouch '{started}'\nwhile [ ! -e '{go}' ]; do sleep 0.05; done\n")
    hook.chmod(0o755)
    return started, go


def _at(make_chat, repo: Path, steps: int, extra: str = ""):
    """1.3.0 (tagging on) with the person-decided checks waived and notes drafted, advanced
    ``steps`` times."""
    chat = make_chat(config(repo, product_extra="      tag: true\n" + extra))
    chat.command("U0ALICE", "/release start 1.3.0")
    for cid in ("RL-01", "RL-02", "RL-05", "RL-06"):
        chat.command("U0BOB", f"/release waive {cid} covered by CI")
    chat.command("U0BOB", "/release notes")
    for _ in range(steps):
        chat.command("U0ALICE", "/release advance")
    return chat


def _status(chat) -> str:
    return chat.command("U0CAROL", "/release status").text


def test_checks_pass_refuses_and_status_explains_it(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: users",))
    chat = make_chat(config(repo))
    chat.command("U0ALICE", "/release start 1.3.0")
    said = chat.command("U0ALICE", "/release advance")
    assert "cannot leave Feature Freeze: RL-01 All PRs merged is pending — cleared by" \
        in said.text
    [blocked] = chat.audit("release.advance.blocked")
    assert blocked.payload["blocked_by"] == ["RL-01"]
    text = _status(chat)
    assert "Leaving Feature Freeze for RC:" in text
    assert "• lease free: yes — free" in text
    assert "• plan fresh: yes — the candidate" in text
    assert "• checks pass: no — RL-01 All PRs merged is pending — cleared by" in text
    assert "• product not frozen: yes — api is not locked" in text
    chat.command("U0BOB", "/release waive RL-01 merged")
    assert "• checks pass: yes — every gating check holds on" in _status(chat)


def test_product_not_frozen_refuses_and_status_explains_it(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: users",))
    commit(repo, "chore: release 1.3.0", BUMP)
    chat = _at(make_chat, repo, 2)
    assert rs.find(chat.svc, "1.3.0").step == "Validation"
    chat.svc.locks.freeze("api", "RB-0007", "error rate", "U0BOB")
    said = chat.command("U0ALICE", "/release advance")
    assert "api is frozen by rollback RB-0007" in said.text
    assert "stays at Validation until then (it may not enter Execution)" in said.text
    assert "• product not frozen: no — api is frozen by rollback RB-0007" in _status(chat)
    assert chat.audit("release.advance.blocked")[-1].payload["frozen"] == "error rate"


def test_plan_fresh_refuses_a_moved_candidate_at_execution(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: users",))
    checked = commit(repo, "chore: release 1.3.0", BUMP)
    chat = _at(make_chat, repo, 3)
    late = commit(repo, "fix: late")
    text = _status(chat)     # read only: the checks have not re-run yet
    assert (f"• plan fresh: no — HEAD moved to {late[:7]} since the checks passed on "
            f"{checked[:7]}: `/release check` re-runs them on {late[:7]}") in text
    said = chat.command("U0ALICE", "/release advance")
    assert f"not tagging v1.3.0: the candidate moved from {checked[:7]} to {late[:7]}" \
        in said.text
    assert rs.find(chat.svc, "1.3.0").step == "Execution"
    assert not git("tag", "--list", "v1.3.0", cwd=repo).strip()


def test_racing_advances_at_execution_tag_and_move_once(tmp_path: Path, make_chat) -> None:
    """The second advance arrives while the first pushes the tag: refused by `lease free`
    (status says so too); the tag, its record and the move happen exactly once."""
    repo = make_repo(tmp_path, msgs=("feat: users",))
    sha = commit(repo, "chore: release 1.3.0", BUMP)
    started, go = _with_held_pushes(tmp_path, repo)
    chat = _at(make_chat, repo, 3)
    assert rs.find(chat.svc, "1.3.0").step == "Execution"
    st = chat.api.state
    first = threading.Thread(target=chat.sender.command, args=("U0ALICE", "/release advance"))
    first.start()
    deadline = time.monotonic() + 20     # the hook touches a file: nothing to be told by
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert started.exists()
    chat.sender.command("U0BOB", "/release advance")
    assert st.wait_for(lambda: any(m.to_user == "U0BOB" and "under way" in m.rendered
                                   for m in st.private), timeout=20)
    [refused] = [m.rendered for m in st.private if m.to_user == "U0BOB" and "under way" in
                 m.rendered]
    assert "another advance of api 1.3.0 is under way (advance by <@U0ALICE> since " \
        "2026-11-24T09:00:00Z); nothing was done" in refused
    text = chat.sender.command("U0CAROL", "/release status")
    assert st.wait_for(lambda: any(m.to_user == "U0CAROL" for m in st.private), timeout=20)
    [status] = [m.rendered for m in st.private if m.to_user == "U0CAROL"]
    assert "• lease free: no — another advance of api 1.3.0 is under way" in status, text
    go.touch()
    first.join()
    chat.local.wait_idle()
    row = rs.find(chat.svc, "1.3.0")
    assert row.step == "Post-Release" and row.tag_name == "v1.3.0"
    assert [e.payload["tag"] for e in chat.audit("release.tag") if e.action == "release.tag"
            ] == ["v1.3.0"]
    assert [e.payload["to"] for e in chat.audit("release.advance")
            if e.action == "release.advance"][-1:] == ["Post-Release"]
    assert len([e for e in chat.audit("release.advance") if e.action == "release.advance"
                and e.payload["from"] == "Execution"]) == 1
    assert git("rev-parse", "v1.3.0^{commit}", cwd=tmp_path / "remote.git").strip() == sha
    assert not chat.audit("release.tag.failed")
    a = chat.svc.actions.get("release", str(row.id))
    assert a is not None and a.status == "Post-Release" and a.digest.startswith(sha)
    assert "• lease free: yes — free" in _status(chat)


def test_two_advances_at_once_move_one_step(tmp_path: Path, make_chat) -> None:
    """Both leave Feature Freeze at the same moment and RC's checks already hold: the release
    moves to RC once, not on to Validation."""
    repo = make_repo(tmp_path, msgs=("feat: users",))
    commit(repo, "chore: release 1.3.0", BUMP)
    chat = _at(make_chat, repo, 0)
    gate = threading.Barrier(2)

    def advance(user: str) -> None:
        gate.wait()
        chat.sender.command(user, "/release advance")

    ts = [threading.Thread(target=advance, args=(u,)) for u in ("U0ALICE", "U0BOB")]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    chat.local.wait_idle()
    assert rs.find(chat.svc, "1.3.0").step == "RC"
    moves = [e.payload for e in chat.audit("release.advance") if e.action == "release.advance"]
    assert [(m["from"], m["to"]) for m in moves] == [("Feature Freeze", "RC")]
    said = [m.rendered for m in chat.api.state.private if "/release advance" not in m.rendered]
    assert sum("is now at RC" in t for t in said) == 1, said
    assert any("under way" in t or "moved to RC meanwhile" in t for t in said), said


def test_abort_is_a_move_and_finished_releases_refuse(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: users",))
    chat = make_chat(config(repo))
    chat.command("U0ALICE", "/release start 1.3.0")
    said = chat.command("U0ALICE", "/release abort 1.3.0 wrong branch")
    assert "Aborted api 1.3.0: wrong branch" in said.text
    row = rs.find(chat.svc, "1.3.0")
    assert (row.step, row.status, row.reason) == ("Feature Freeze", "aborted", "wrong branch")
    a = chat.svc.actions.get("release", str(row.id))
    assert a is not None and (a.status, a.active) == ("aborted", False)
    assert "api 1.3.0 is aborted, nothing to abort" in chat.command(
        "U0ALICE", "/release abort 1.3.0 again").text
    assert "api 1.3.0 is aborted" in chat.command("U0ALICE", "/release advance 1.3.0").text
    msg = [m for m in chat.messages if m.rendered.startswith("== Release api")][0]
    assert "Aborted: wrong branch" in chat._msg(msg.number).rendered
    assert any("aborted: wrong branch" in m.text for m in chat.thread(msg))
    assert "Started api 1.2.1" in chat.command("U0ALICE", "/release start patch").text


def test_an_advance_that_died_after_the_push_is_recovered_as_before(tmp_path: Path,
                                                                     make_chat) -> None:
    """A process killed between pushing v1.3.0 and recording it: its lease lapses, then the
    next advance says the tag exists (not overwriting it); without the tag it tags and records
    it, once."""
    repo = make_repo(tmp_path, msgs=("feat: users",))
    sha = commit(repo, "chore: release 1.3.0", BUMP)
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    git("remote", "add", "origin", str(remote), cwd=repo)
    chat = _at(make_chat, repo, 3)
    row = rs.find(chat.svc, "1.3.0")
    # what the dead advance left: its lease and the pushed tag, nothing recorded
    assert chat.svc.locks.acquire(f"release:{row.id}", "U0ALICE#dead", timedelta(minutes=5),
                                  "advance by <@U0ALICE>") is None
    git("tag", "-a", "v1.3.0", "-m", "api 1.3.0", sha, cwd=repo)
    git("push", "-q", "origin", "refs/tags/v1.3.0", cwd=repo)
    assert "is under way" in chat.command("U0BOB", "/release advance").text
    chat.clock.advance(minutes=6)
    said = chat.command("U0BOB", "/release advance")
    assert "tag v1.3.0 already exists in api; not overwriting it" in said.text
    assert rs.find(chat.svc, "1.3.0").step == "Execution"
    assert [e.action for e in chat.audit("release.tag")] == ["release.tag.failed"]
    git("tag", "-d", "v1.3.0", cwd=repo)
    git("push", "-q", "origin", ":refs/tags/v1.3.0", cwd=repo)
    assert "is now at Post-Release" in chat.command("U0BOB", "/release advance").text
    assert [e.payload["commit"] for e in chat.audit("release.tag")
            if e.action == "release.tag"] == [sha]
    assert rs.find(chat.svc, "1.3.0").tag_name == "v1.3.0"
