"""Issue 12 item 2: ``prepare: true`` — at the RC step relbot commits the version bump and the
changelog section on the release branch (one commit, pushed, evidence ID in its message)."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.git import git
from bot.release import service as rs
from tests.test_release_fixtures import config, make_repo


def test_prepare_commits_bump_and_changelog_at_rc_and_the_tag_carries_them(
        tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: users endpoint",))
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    git("remote", "add", "origin", str(remote), cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)
    base = git("rev-parse", "main", cwd=repo).strip()
    chat = make_chat(config(repo, product_extra="      tag: true\n      prepare: true\n"))
    chat.command("U0ALICE", "/release start 1.3.0")
    row = rs.find(chat.svc, "1.3.0")
    assert row.checks["RL-04"].result == "fail"
    said = chat.command("U0ALICE", "/release prepare")
    assert "the release commit is prepared at the RC step" in said.text
    chat.command("U0BOB", "/release waive RL-01 merged")
    said = chat.command("U0ALICE", "/release advance")
    new = git("rev-parse", "main", cwd=repo).strip()
    assert new != base and git("rev-parse", "main", cwd=remote).strip() == new
    assert git("rev-parse", f"{new}^", cwd=repo).strip() == base        # one commit
    assert (f"api: committed CHANGELOG.md, pyproject.toml for 1.3.0 on main ({new[:7]}, "
            "REL-api-1.3.0) and pushed to origin") in said.text
    msg = git("log", "-1", "--format=%B", new, cwd=repo)
    assert msg.startswith("chore(release): api 1.3.0") and "Relbot-Evidence: REL-api-1.3.0" in msg
    assert git("show", f"{new}:pyproject.toml", cwd=repo).strip() == 'version = "1.3.0"'
    log = git("show", f"{new}:CHANGELOG.md", cwd=repo)
    assert log.index("## [1.3.0] - 2026-11-24") < log.index("## 1.2.0")
    assert "### Features\n\n- users endpoint" in log
    assert git("status", "--porcelain", cwd=repo).strip() == ""      # checkout fast-forwarded
    row = rs.find(chat.svc, "1.3.0")
    assert row.commit == new
    assert (row.checks["RL-03"].result, row.checks["RL-03"].commit) == ("pass", new)
    assert (row.checks["RL-04"].result, row.checks["RL-04"].commit) == ("pass", new)
    [e] = chat.audit("release.prepared")
    assert e.payload["commit"] == new and e.payload["evidence_id"] == "REL-api-1.3.0"
    # a second prepare has nothing to do
    said = chat.command("U0ALICE", "/release prepare")
    assert "nothing to commit" in said.text
    for cid in ("RL-02", "RL-05", "RL-06"):
        chat.command("U0BOB", f"/release waive {cid} ok")
    chat.command("U0BOB", "/release notes")
    for _ in range(3):
        chat.command("U0ALICE", "/release advance")
    assert git("rev-parse", "v1.3.0^{commit}", cwd=remote).strip() == new
    assert 'version = "1.3.0"' in git("show", "v1.3.0:pyproject.toml", cwd=remote)
    rec = yaml.safe_load(chat.command("U0ALICE", "/release evidence 1.3.0").text.split("```")[1])
    assert rec["id"] == "REL-api-1.3.0" and rec["tag"]["commit"] == new


def test_prepare_refuses_a_version_file_without_a_version(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: users",))
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    git("commit", "-qam", "chore: drop the version", cwd=repo)
    chat = make_chat(config(repo, product_extra="      prepare: true\n"))
    chat.command("U0ALICE", "/release start 1.3.0")
    chat.command("U0BOB", "/release waive RL-01 merged")
    said = chat.command("U0ALICE", "/release advance")
    assert "preparing the release commit failed: cannot prepare: no `version = \"X.Y.Z\"`" \
        in said.text
    assert rs.find(chat.svc, "1.3.0").step == "RC"
    assert chat.audit("release.prepare.failed")


def test_notes_drafted_before_rc_are_drafted_again_for_the_prepared_commit(
        tmp_path: Path, make_chat) -> None:
    """Review: notes drafted at Feature Freeze stopped counting (RL-08 pending, 'drafted for
    <base>, not <prepared>') because of relbot's own prepare commit."""
    repo = make_repo(tmp_path, msgs=("feat: users endpoint",))
    chat = make_chat(config(repo, product_extra="      prepare: true\n"))
    chat.command("U0ALICE", "/release start 1.3.0")
    chat.command("U0BOB", "/release notes")
    chat.command("U0BOB", "/release waive RL-01 merged")
    said = chat.command("U0ALICE", "/release advance")
    new = git("rev-parse", "main", cwd=repo).strip()
    assert f"notes drafted again for {new[:7]} (RL-08)" in said.text, said.text
    row = rs.find(chat.svc, "1.3.0")
    assert row.step == "RC" and row.commit == new
    assert (row.checks["RL-08"].result, row.checks["RL-08"].commit) == ("pass", new)
    notes = yaml.safe_load((repo / "release-notes" / "v1.3.0.yaml").read_text())
    assert notes["to"] == new
    assert "cannot leave RC" not in chat.command("U0ALICE", "/release advance").text
    assert rs.find(chat.svc, "1.3.0").step == "Validation"
