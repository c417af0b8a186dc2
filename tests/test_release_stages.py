"""Issue 12 items 4-5: pre-releases of the release being prepared, rc promoted to final with
the checks that still hold, cadence rules that need reason=..., feat: commits after the freeze
(signed Slack requests, real repos)."""

from __future__ import annotations

from pathlib import Path

from bot.cadence.reminders import run_pending
from bot.clock import FakeClock
from bot.git import git
from bot.release import service as rs
from tests.test_release_fixtures import commit, config, jump, make_repo

CALENDAR = """\
calendar:
  cycle_start: 2026-01-05
  reminders:
    - {id: mid-stab, at: freeze, offset: 2d, text: "Stabilization week for {version}: only fixes."}
"""


def test_alpha_targets_the_release_being_prepared_and_abort_lets_the_next_start(
        tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, tag="v1.4.0", msgs=("feat: search",))
    chat = make_chat(config(repo))
    said = chat.command("U0ALICE", "/release start alpha")
    assert "Started api 1.5.0-alpha.1" in said.text
    assert "requested alpha of 1.5.0 (minor from the commits)" in said.text
    assert "alpha: unstable, internal only" in said.text
    chat.command("U0ALICE", "/release abort 1.5.0-alpha.1 broken build")
    said = chat.command("U0ALICE", "/release start alpha")
    assert "Started api 1.5.0-alpha.2" in said.text, said.text
    assert "continuing its pre-releases" in said.text
    chat.command("U0ALICE", "/release abort 1.5.0-alpha.2 still broken")
    said = chat.command("U0ALICE", "/release start 1.5.0-alpha.2")
    assert "it was aborted and a version is not reused; start the next one: " \
           "`/release start api alpha`" in said.text
    said = chat.command("U0ALICE", "/release start 1.5.0-beta")
    assert "Started api 1.5.0-beta.1" in said.text and "beta: feature-complete" in said.text
    chat.command("U0ALICE", "/release abort 1.5.0-beta.1 nope")
    said = chat.command("U0ALICE", "/release start alpha")
    assert "cannot go back from beta to alpha (1.5.0-beta.1)" in said.text
    assert "Started api 1.5.0-rc.1" in chat.command("U0ALICE", "/release start rc").text


def test_a_fix_only_prerelease_is_a_patch_and_an_explicit_major_alpha(tmp_path: Path,
                                                                      make_chat) -> None:
    repo = make_repo(tmp_path, tag="v1.4.0", msgs=("fix: crash",))
    chat = make_chat(config(repo))
    assert "Started api 1.4.1-beta.1" in chat.command("U0ALICE", "/release start beta").text
    chat.command("U0ALICE", "/release abort 1.4.1-beta.1 wrong line")
    said = chat.command("U0ALICE", "/release start 2.0.0-alpha")
    assert "Started api 2.0.0-alpha.1 (major)" in said.text


def test_rc_promoted_to_final_keeps_the_checks_that_hold_on_the_same_commit(
        tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: users",))
    sha = commit(repo, "chore: release 1.3.0", {
        "pyproject.toml": 'version = "1.3.0"', "CHANGELOG.md": "# Changelog\n\n## 1.3.0\n- a"})
    chat = make_chat(config(repo, product_extra="      tag: true\n"))
    assert "Started api 1.3.0-rc.1" in chat.command("U0ALICE", "/release start rc").text
    row = rs.find(chat.svc, "1.3.0-rc.1")
    assert row.checks["RL-04"].result == "pass"         # the file names 1.3.0, the rc's final
    for cid in ("RL-01", "RL-02", "RL-05", "RL-06"):
        chat.command("U0BOB", f"/release waive {cid} checked on staging")
    chat.command("U0BOB", "/release notes")
    for _ in range(5):
        chat.command("U0ALICE", "/release advance")
    assert rs.find(chat.svc, "1.3.0-rc.1").status == "released"
    assert git("rev-parse", "v1.3.0-rc.1^{commit}", cwd=repo).strip() == sha
    said = chat.command("U0ALICE", "/release start final")
    assert "Started api 1.3.0" in said.text
    assert "kept RL-01, RL-02, RL-05, RL-06 from the rc on the same commit" in said.text
    row = rs.find(chat.svc, "1.3.0")
    assert row.checks["RL-06"].result == "waived" and row.checks["RL-06"].actor == "U0BOB"
    assert row.checks["RL-06"].evidence.startswith(f"kept from 1.3.0-rc.1 on {sha[:7]}")
    assert row.checks["RL-08"].result == "pending"      # notes are per version
    chat.command("U0BOB", "/release notes")
    notes = (repo / "release-notes" / "v1.3.0.md").read_text()
    assert "users" in notes                             # since v1.2.0, not since the rc tag
    for _ in range(3):
        chat.command("U0ALICE", "/release advance")
    assert rs.find(chat.svc, "1.3.0").step == "Execution"
    chat.command("U0ALICE", "/release advance")
    assert git("rev-parse", "v1.3.0^{commit}", cwd=repo).strip() == sha


def test_a_final_on_another_commit_keeps_nothing(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: users",))
    chat = make_chat(config(repo))
    chat.command("U0ALICE", "/release start rc")
    chat.command("U0BOB", "/release waive RL-01 ok")
    jump(chat.svc, "1.3.0-rc.1", "released")
    commit(repo, "fix: after rc")
    said = chat.command("U0ALICE", "/release start final")
    assert "Started api 1.3.0" in said.text and "kept" not in said.text
    assert rs.find(chat.svc, "1.3.0").checks["RL-01"].result == "pending"


def test_a_major_outside_a_major_cycle_needs_a_reason(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: users",))
    # Tue 20 Jan 2026: cycle 2, a minor cycle, week 1
    chat = make_chat(config(repo, extra=CALENDAR), clock=FakeClock("2026-01-20T09:00:00Z"))
    said = chat.command("U0ALICE", "/release start major")
    assert ("api 2.0.0 would be a major release outside a major cycle (cycle 2 is a minor "
            "cycle); say why to start it anyway: `/release start api major reason=\"...\"`"
            ) in said.text
    assert chat.audit("release.start.refused")[-1].payload["needs"] == "reason="
    assert rs.store(chat.svc).last("api") is None
    said = chat.command("U0ALICE", '/release start major reason="CVE fix needs the API break"')
    assert "Started api 2.0.0 (major)" in said.text
    assert "reason: CVE fix needs the API break" in said.text
    start = [e for e in chat.audit("release.start") if e.action == "release.start"][-1]
    assert start.payload["reason"] == "CVE fix needs the API break"
    assert "major release outside a major cycle" in start.payload["cadence_rule"]
    msg = [m for m in chat.messages if m.rendered.startswith("== Release api 2.0.0")][0]
    assert "reason: CVE fix needs the API break" in msg.rendered
    ev = chat.command("U0ALICE", "/release evidence").text
    assert "start_reason: CVE fix needs the API break" in ev


def test_a_minor_in_the_stabilization_week_needs_a_reason_and_feats_are_listed(
        tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("fix: crash",))
    # Tue 27 Jan 2026: cycle 2, week 2 = stabilization
    chat = make_chat(config(repo, extra=CALENDAR), clock=FakeClock("2026-01-27T09:00:00Z"))
    said = chat.command("U0ALICE", "/release start minor")
    assert "a minor release started in the stabilization week of cycle 2 (only fixes)" \
        in said.text
    assert "Started api 1.2.1" in chat.command("U0ALICE", "/release start patch").text
    feat = commit(repo, "feat: sneaky feature")
    commit(repo, "fix: real fix")
    status = chat.command("U0ALICE", "/release status").text
    assert "1 feat: commit(s) merged into api since the freeze" in status
    assert f"{feat[:7]} feat: sneaky feature" in status and "real fix" not in status
    # the stabilization-week reminder (Wed 28 Jan 09:00 Berlin) names it too
    chat.clock.advance(hours=23)
    run_pending(chat.svc)
    chat.wait()
    [rem] = [m for m in chat.messages if m.text.startswith("Stabilization week")]
    assert f"{feat[:7]} feat: sneaky feature" in rem.text


def test_the_rc_step_cuts_rc_tags_on_the_candidate(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: users",))
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    git("remote", "add", "origin", str(remote), cwd=repo)
    chat = make_chat(config(repo, product_extra="      tag: true\n"))
    chat.command("U0ALICE", "/release start 1.3.0")
    said = chat.command("U0ALICE", "/release rc")
    assert "rc tags are cut at the RC step; api 1.3.0 is at Feature Freeze" in said.text
    chat.command("U0BOB", "/release waive RL-01 merged")
    chat.command("U0ALICE", "/release advance")
    first = rs.find(chat.svc, "1.3.0").commit
    said = chat.command("U0ALICE", "/release rc")
    assert f"api: cut v1.3.0-rc.1 ({first[:7]}) and pushed to origin" in said.text
    fix = commit(repo, "fix: found in rc.1")
    said = chat.command("U0ALICE", "/release rc")
    assert f"api: cut v1.3.0-rc.2 ({fix[:7]}) and pushed to origin" in said.text
    assert "the candidate moved" in said.text
    assert git("rev-parse", "v1.3.0-rc.2^{commit}", cwd=remote).strip() == fix
    assert git("rev-parse", "v1.3.0-rc.1^{commit}", cwd=remote).strip() == first
    assert [e.payload["tag"] for e in chat.audit("release.rc_tag")] == ["v1.3.0-rc.1",
                                                                         "v1.3.0-rc.2"]


def test_an_rc_tag_does_not_reuse_the_number_of_an_aborted_rc(tmp_path: Path,
                                                              make_chat) -> None:
    """Review: `/release rc` counted only tags, so after `/release abort 1.3.0-rc.1` it cut
    v1.3.0-rc.1 again, a second thing under the aborted version's number."""
    repo = make_repo(tmp_path, msgs=("feat: users",))
    chat = make_chat(config(repo, product_extra="      tag: true\n"))
    assert "Started api 1.3.0-rc.1" in chat.command("U0ALICE", "/release start rc").text
    chat.command("U0ALICE", "/release abort 1.3.0-rc.1 wrong commit")
    chat.command("U0ALICE", "/release start 1.3.0")
    chat.command("U0BOB", "/release waive RL-01 merged")
    chat.command("U0ALICE", "/release advance")
    sha = rs.find(chat.svc, "1.3.0").commit
    said = chat.command("U0ALICE", "/release rc")
    assert f"api: cut v1.3.0-rc.2 ({sha[:7]})" in said.text, said.text
    assert not git("tag", "--list", "v1.3.0-rc.1", cwd=repo).strip()


def test_a_final_after_its_tagged_prerelease_keeps_its_kind(tmp_path: Path,
                                                           make_chat) -> None:
    """Review: the kind was measured from the greatest tag, pre-releases included, so 2.0.0
    after the tag v2.0.0-rc.1 started as a *patch* release (RL-07 Rollback tested n/a for a
    major), and 1.3.0-alpha.2 after v1.3.0-alpha.1 as a patch too."""
    repo = make_repo(tmp_path, msgs=("feat!: new API",))
    git("tag", "-a", "v2.0.0-rc.1", "-m", "rc", cwd=repo)
    chat = make_chat(config(repo))
    said = chat.command("U0ALICE", "/release start 2.0.0")
    assert "Started api 2.0.0 (major)" in said.text, said.text
    row = rs.find(chat.svc, "2.0.0")
    assert row.bump == "major" and row.checks["RL-07"].result == "pending"
    assert [e.payload["bump"] for e in chat.audit("release.start")] == ["major"]


def test_a_prerelease_after_a_tagged_one_keeps_its_kind(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: search",))
    git("tag", "-a", "v1.3.0-alpha.1", "-m", "alpha", cwd=repo)
    chat = make_chat(config(repo))
    said = chat.command("U0ALICE", "/release start alpha")
    assert "Started api 1.3.0-alpha.2 (minor)" in said.text, said.text


def test_a_bump_smaller_than_the_commits_call_for_is_said(tmp_path: Path, make_chat) -> None:
    """Review: `/release start minor` over a breaking change started 1.3.0 without a word."""
    repo = make_repo(tmp_path, msgs=("feat!: drop the v1 API",))
    chat = make_chat(config(repo))
    said = chat.command("U0ALICE", "/release start minor")
    assert "Started api 1.3.0 (minor): requested minor; :warning: the commits call for a " \
           "major release: " in said.text, said.text
    assert "drop the v1 API" in said.text
    msg = [m for m in chat.messages if m.rendered.startswith("== Release api")][0]
    assert any("the commits call for a major release" in m.text for m in chat.thread(msg))
