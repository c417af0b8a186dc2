"""Issue 12 item 1-3: checks run on a commit, the tag is exactly the checked commit, evidence
names the tag (signed Slack requests, real repos and a bare remote, the tag's tree read with
``git show``)."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.git import git
from bot.release import service as rs
from tests.cli import relbot
from tests.test_release_fixtures import commit, config, make_repo

BUMP = {"pyproject.toml": 'version = "1.3.0"', "CHANGELOG.md": "# Changelog\n\n## 1.3.0\n- a"}


def _with_remote(tmp_path: Path, repo: Path) -> Path:
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    git("remote", "add", "origin", str(remote), cwd=repo)
    return remote


def _clear(chat) -> None:
    for cid in ("RL-01", "RL-02", "RL-05", "RL-06"):
        chat.command("U0BOB", f"/release waive {cid} covered by CI")


def _tagging_chat(make_chat, repo: Path, extra: str = ""):
    return make_chat(config(repo, product_extra="      tag: true\n" + extra))


def _advanced(chat, steps: int) -> None:
    """Start 1.3.0, clear the person-decided checks, draft the notes, advance ``steps``."""
    chat.command("U0ALICE", "/release start 1.3.0")
    _clear(chat)
    chat.command("U0BOB", "/release notes")
    for _ in range(steps):
        chat.command("U0ALICE", "/release advance")


def test_the_tag_carries_the_bump_committed_after_start(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: users",))
    remote = _with_remote(tmp_path, repo)
    chat = _tagging_chat(make_chat, repo)
    chat.command("U0ALICE", "/release start 1.3.0")
    start_sha = rs.find(chat.svc, "1.3.0").commit
    _clear(chat)
    bump = commit(repo, "chore: release 1.3.0", BUMP)
    chat.command("U0BOB", "/release notes")
    for _ in range(4):
        said = chat.command("U0ALICE", "/release advance")
    row = rs.find(chat.svc, "1.3.0")
    assert row.step == "Post-Release", said.text
    assert row.commit == bump != start_sha
    assert git("rev-parse", "v1.3.0^{commit}", cwd=remote).strip() == bump
    assert 'version = "1.3.0"' in git("show", "v1.3.0:pyproject.toml", cwd=remote)
    assert "## 1.3.0" in git("show", "v1.3.0:CHANGELOG.md", cwd=remote)
    moved = [e for e in chat.audit("release.candidate")]
    assert moved and moved[0].payload["from"] == start_sha and moved[0].payload["to"] == bump
    text = f"api: tagged v1.3.0 ({bump[:7]}) and pushed to origin"
    msg = [m for m in chat.messages if m.rendered.startswith("== Release api")][0]
    assert any(text in m.text for m in chat.thread(msg))
    assert any(text in m.text for m in chat.messages if not m.thread_ts)
    chat.command("U0ALICE", "/release advance")
    notes = (repo / "release-notes" / "v1.3.0.md").read_text()
    digest = rs.find(chat.svc, "1.3.0").notes_digest
    said = chat.command("U0BOB", "/release notes 1.3.0")  # review: it rewrote what shipped
    assert f"api 1.3.0 is released: it keeps the notes it finished with (sha256 " \
           f"{digest[:12]})" in said.text
    assert rs.find(chat.svc, "1.3.0").notes_digest == digest
    assert (repo / "release-notes" / "v1.3.0.md").read_text() == notes
    r = relbot("--config", str(chat.config_path), "--db", str(chat.db_path), "release",
               "notes", "1.3.0")
    assert r.returncode == 1 and "Traceback" not in r.stderr     # a refusal, not a crash
    assert "relbot: api 1.3.0 is released: it keeps the notes it finished with" in r.stderr
    said = chat.command("U0ALICE", "/release status")      # none active: the last one
    assert "'(active)' not found" not in said.text and "status: *released*" in said.text
    assert "tagged `v1.3.0`" in said.text


def test_uncommitted_edits_do_not_pass_and_the_reason_is_shown(tmp_path: Path,
                                                               make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: users",))
    chat = make_chat(config(repo))
    chat.command("U0ALICE", "/release start 1.3.0")
    for name, text in BUMP.items():
        (repo / name).write_text(text + "\n")
    said = chat.command("U0ALICE", "/release check")
    row = rs.find(chat.svc, "1.3.0")
    assert row.checks["RL-04"].result == "fail"
    assert "RL-04: fail pyproject.toml does not contain 1.3.0" in said.text
    msg = [m for m in chat.messages if m.rendered.startswith("== Release api")][0]
    assert (f"RL-04 Version bumped: fail — relbot · pyproject.toml does not contain 1.3.0 · "
            f"on `{row.commit[:7]}`") in chat._msg(msg.number).rendered


def test_a_ref_that_moved_at_execution_is_not_tagged(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: users",))
    checked = commit(repo, "chore: release 1.3.0", BUMP)
    chat = _tagging_chat(make_chat, repo)
    _advanced(chat, 3)
    assert rs.find(chat.svc, "1.3.0").step == "Execution"
    late = commit(repo, "fix: late change")
    said = chat.command("U0ALICE", "/release advance")
    assert (f"not tagging v1.3.0: the candidate moved from {checked[:7]} to {late[:7]} since "
            f"the checks ran") in said.text
    assert not git("tag", "--list", "v1.3.0", cwd=repo).strip()
    row = rs.find(chat.svc, "1.3.0")
    assert row.step == "Execution" and row.commit == late
    # notes were drafted for the old commit: RL-08 no longer holds, so no tag either
    said = chat.command("U0ALICE", "/release advance")
    assert "RL-08 Release Notes drafted".lower() in said.text.lower()
    assert f"drafted for {checked[:7]}, not {late[:7]}" in said.text
    chat.command("U0BOB", "/release notes")
    chat.command("U0ALICE", "/release advance")
    assert git("rev-parse", "v1.3.0^{commit}", cwd=repo).strip() == late


def test_command_checks_run_in_a_clean_worktree_of_the_candidate(tmp_path: Path,
                                                                 make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: users",))
    sha = commit(repo, "chore: release 1.3.0", BUMP)
    (repo / "dirty.txt").write_text("not committed\n")
    extra = ('      checks:\n        RL-02: ["sh", "-c", "git rev-parse HEAD; '
             'test ! -e dirty.txt"]\n')
    chat = make_chat(config(repo, product_extra=extra))
    chat.command("U0ALICE", "/release start 1.3.0")
    c = rs.find(chat.svc, "1.3.0").checks["RL-02"]
    assert c.result == "pass" and sha in c.evidence and c.commit == sha
    assert git("worktree", "list", cwd=repo).count("\n") == 1      # removed afterwards
    msg = [m for m in chat.messages if m.rendered.startswith("== Release api")][0]
    assert "Confirm RL-02" not in msg.rendered and "Confirm RL-05" in msg.rendered


def test_evidence_names_the_tag_and_verify_checks_the_repository(tmp_path: Path,
                                                                 make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: users",))
    sha = commit(repo, "chore: release 1.3.0", BUMP)
    chat = _tagging_chat(make_chat, repo)
    _advanced(chat, 4)
    base = ("--config", str(chat.config_path), "--db", str(chat.db_path))
    r = relbot(*base, "release", "evidence", "1.3.0", "--format", "yaml")
    rec = yaml.safe_load(r.stdout)
    obj = git("rev-parse", "refs/tags/v1.3.0", cwd=repo).strip()
    assert rec["tag"] == {"name": "v1.3.0", "object": obj, "commit": sha, "pushed_to": None}
    assert all(c["commit"] == sha for c in rec["checks"] if c["result"] != "n/a")
    f = tmp_path / "evidence.yaml"

    def verify(record: dict) -> tuple[int, str]:
        f.write_text(yaml.safe_dump(record, sort_keys=False))
        out = relbot(*base, "release", "verify-evidence", str(f))
        return out.returncode, out.stdout + out.stderr

    code, out = verify(rec)
    assert code == 0 and f"tag v1.3.0 in {repo} points at {sha[:7]}" in out, out
    forged = "f" * 40
    code, out = verify({**rec, "commit": forged})
    assert code == 1 and f"commit {forged} is not the candidate {sha}" in out
    code, out = verify({**rec, "tag": {**rec["tag"], "commit": forged}})
    assert code == 1 and f"tag.commit {forged} is not {sha} as audited" in out
    checks = [{**c, "commit": forged} if c["id"] == "RL-04" else c for c in rec["checks"]]
    code, out = verify({**rec, "checks": checks})
    assert code == 1 and "check RL-04: ran on" in out
    code, out = verify({**rec, "tag": None})
    assert code == 1 and "the audit log records tag v1.3.0; the record has none" in out
    git("tag", "-d", "v1.3.0", cwd=repo)
    code, out = verify(rec)
    assert code == 1 and f"tag v1.3.0 does not exist in {repo}" in out


def test_without_tagging_a_moved_ref_still_holds_execution(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: users",))
    commit(repo, "chore: release 1.3.0", BUMP)
    chat = make_chat(config(repo))
    _advanced(chat, 3)
    late = commit(repo, "fix: late")
    said = chat.command("U0ALICE", "/release advance")
    assert "api 1.3.0 stays at Execution: the candidate moved" in said.text
    # the notes were for the old commit: the answer says so instead of promising to ship
    assert f"before {late[:7]} ships: RL-08 Release notes drafted is pending" in said.text
    assert "again ships" not in said.text
    assert rs.find(chat.svc, "1.3.0").step == "Execution"
    said = chat.command("U0ALICE", "/release advance")
    assert "cannot leave Execution: RL-08 Release notes drafted is pending" in said.text
    chat.command("U0BOB", "/release notes")
    chat.command("U0ALICE", "/release advance")
    assert rs.find(chat.svc, "1.3.0").step == "Post-Release"


def test_execution_is_not_ready_while_a_check_does_not_hold_on_the_moved_candidate(
        tmp_path: Path, make_chat) -> None:
    """Review: after the ref moved at Execution, the message said "Ready to leave Execution"
    and the refusal promised "`/release advance` again tags" although RL-08 (notes drafted for
    the old commit) still held the tag back."""
    repo = make_repo(tmp_path, msgs=("feat: users",))
    checked = commit(repo, "chore: release 1.3.0", BUMP)
    chat = _tagging_chat(make_chat, repo)
    _advanced(chat, 3)
    msg = [m for m in chat.messages if m.rendered.startswith("== Release api")][0]
    assert "Ready to leave Execution" in chat._msg(msg.number).rendered
    late = commit(repo, "fix: late change")
    said = chat.command("U0ALICE", "/release advance")
    assert f"the candidate moved from {checked[:7]} to {late[:7]}" in said.text
    assert "again tags" not in said.text
    assert (f"before {late[:7]} ships: RL-08 Release notes drafted is pending (notes were "
            f"drafted for {checked[:7]}, not {late[:7]}) — cleared by anyone running "
            "`/release notes`") in said.text
    shown = chat._msg(msg.number).rendered
    assert "Ready to leave Execution" not in shown
    assert "Blocking Execution: RL-08 (anyone running `/release notes`)" in shown
    status = chat.command("U0ALICE", "/release status").text
    assert "Blocking Execution: RL-08" in status
    chat.command("U0BOB", "/release notes")
    assert "Ready to leave Execution" in chat._msg(msg.number).rendered
    chat.command("U0ALICE", "/release advance")
    assert git("rev-parse", "v1.3.0^{commit}", cwd=repo).strip() == late


def test_a_failed_tag_push_keeps_no_tag_and_advance_retries(tmp_path: Path,
                                                            make_chat) -> None:
    """Review: when pushing the tag failed, the local tag stayed; every later advance was
    refused 'tag v1.3.0 already exists in api; not overwriting it' — the release was stuck."""
    repo = make_repo(tmp_path, msgs=("feat: users",))
    sha = commit(repo, "chore: release 1.3.0", BUMP)
    git("remote", "add", "origin", str(tmp_path / "missing.git"), cwd=repo)
    chat = _tagging_chat(make_chat, repo)
    _advanced(chat, 3)
    said = chat.command("U0ALICE", "/release advance")
    assert "not tagging v1.3.0: pushing it to origin failed" in said.text, said.text
    assert "Internal error" not in said.text
    assert not git("tag", "--list", "v1.3.0", cwd=repo).strip()     # nothing half-done
    assert rs.find(chat.svc, "1.3.0").step == "Execution"
    assert [e.payload["tag"] for e in chat.audit("release.tag.failed")] == ["v1.3.0"]
    remote = tmp_path / "missing.git"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    said = chat.command("U0ALICE", "/release advance")
    assert f"api: tagged v1.3.0 ({sha[:7]}) and pushed to origin" in [
        m.text for m in chat.messages if not m.thread_ts][-1], said.text
    assert git("rev-parse", "v1.3.0^{commit}", cwd=remote).strip() == sha
