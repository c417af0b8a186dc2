"""RL-01 and RL-02 decided by GitHub (a loopback fake recording every call), through signed
Slack commands against a real git repository."""

from __future__ import annotations

from pathlib import Path

from bot.release import evidence as rev
from bot.release import service as rs
from tests.integration_fixtures import GH_TOKEN, github_config, ready_repo, to_execution

REPO = "acme/api"


def _start(make_chat, tmp_path: Path, gh, **keys: str):  # type: ignore[no-untyped-def]
    repo, sha = ready_repo(tmp_path)
    chat = make_chat(github_config(repo, gh, **keys))
    chat.command("U0ALICE", "/release start minor")
    return chat, sha


def _check(chat, cid: str):  # type: ignore[no-untyped-def]
    return rs.find(chat.svc, "1.3.0").checks[cid]


def test_rl01_open_pull_request_fails_listed_then_passes_when_merged(
        tmp_path: Path, make_chat, github) -> None:
    github.add_pr(REPO, 11, "Users endpoint", "alice", "merged", milestone="1.3.0")
    github.add_pr(REPO, 12, "Add retry", "octocat", "open", milestone="1.3.0")
    github.add_pr(REPO, 13, "Abandoned idea", "bob", "closed", milestone="1.3.0")
    github.add_pr(REPO, 20, "Next release", "carol", "open", milestone="1.4.0")
    github.add_issue(REPO, 14, "A bug report, not a PR", milestone="1.3.0")
    chat, _ = _start(make_chat, tmp_path, github)
    said = chat.command("U0ALICE", "/release check")
    assert ("RL-01: fail 1 open in milestone 1.3.0 (GitHub acme/api): #12 Add retry by "
            "octocat <https://github.example/acme/api/pull/12>") in said.text
    assert "closed without merging (information): #13 Abandoned idea by bob" in said.text
    assert "#20" not in said.text and "#14" not in said.text
    said = chat.command("U0ALICE", "/release advance")
    assert "cannot leave Feature Freeze: RL-01 All PRs merged is fail" in said.text
    # no Confirm button for a check GitHub decides
    msg = [m for m in chat.messages if m.rendered.startswith("== Release api")][0]
    assert "release:check:RL-01" not in str(msg.blocks)
    # pull requests came through the issues endpoint of the milestone's number
    [issues] = github.calls("GET", "/repos/acme/api/issues")[:1]
    assert issues.query["milestone"] == "1" and issues.query["state"] == "all"
    assert issues.headers["authorization"] == f"Bearer {GH_TOKEN}"
    sha = github.merge(REPO, 12)
    said = chat.command("U0ALICE", "/release check")
    assert "RL-01: pass 2 merged, none open in milestone 1.3.0 (GitHub acme/api)" in said.text
    ev = rev.evidence(chat.svc, rs.find(chat.svc, "1.3.0"))
    [rl01] = [c for c in ev["checks"] if c["id"] == "RL-01"]
    merged = {m["number"]: m["merge_sha"] for m in rl01["details"]["merged"]}
    assert merged == {11: "0011" + "ab" * 18, 12: sha}
    assert rl01["details"]["closed_unmerged"][0]["number"] == 13
    assert rev.verify_evidence(chat.svc.audit, ev) == []
    assert "at RC" in chat.command("U0ALICE", "/release advance").text


def test_rl01_by_labels(tmp_path: Path, make_chat, github) -> None:
    github.add_pr(REPO, 5, "Labelled", "alice", "open", labels=("release-1.3",))
    github.add_pr(REPO, 6, "Other", "alice", "open", labels=("later",))
    chat, _ = _start(make_chat, tmp_path, github, milestone=None,
                     labels='["release-{major}.{minor}"]')
    said = chat.command("U0ALICE", "/release check")
    assert "RL-01: fail 1 open in labels release-1.3 (GitHub acme/api): #5 Labelled" in \
        said.text
    assert github.calls("GET", "/issues")[0].query["labels"] == "release-1.3"


def test_rl01_missing_milestone_names_the_fix(tmp_path: Path, make_chat, github) -> None:
    chat, _ = _start(make_chat, tmp_path, github)
    said = chat.command("U0ALICE", "/release check")
    assert ("RL-01: fail GitHub: no milestone '1.3.0' in acme/api: create it, or change "
            "releases.products[api].github.milestone") in said.text


def test_rl02_waits_on_running_checks_rechecks_on_schedule_then_fails_with_links(
        tmp_path: Path, make_chat, github) -> None:
    repo, sha = ready_repo(tmp_path)
    github.check(REPO, sha, "build", "success")
    github.check(REPO, sha, "test", None, status="in_progress")
    github.check(REPO, sha, "lint", "failure")  # not required
    github.check(REPO, "0" * 40, "test", "success")  # another commit: irrelevant
    chat = make_chat(github_config(repo, github, required_checks="[build, test]"))
    chat.command("U0ALICE", "/release start minor")
    c = _check(chat, "RL-02")
    assert c.result == "waiting"
    assert c.evidence == f"not decided yet on {sha[:10]} (GitHub acme/api): test (in_progress)"
    paths = {r.path for r in github.calls("GET", "/commits/")}
    assert paths == {f"/repos/acme/api/commits/{sha}/check-runs",
                     f"/repos/acme/api/commits/{sha}/status"}
    jobs = [j for j in chat.svc.scheduler.jobs() if j[0].startswith("release-recheck:")]
    assert jobs and jobs[0][2] == chat.clock.now().replace(microsecond=0) + \
        __import__("datetime").timedelta(minutes=5)
    # the re-run concluded with a failure: the scheduled re-check decides and says so
    github.check(REPO, sha, "test", "timed_out")
    chat.clock.advance(minutes=5)
    chat.run_due()
    c = _check(chat, "RL-02")
    assert c.result == "fail"
    url = github.repo(REPO).check_runs[sha][-1]["html_url"]
    assert c.evidence == f"1 failing on {sha[:10]} (GitHub acme/api): test timed_out <{url}>"
    parent = [m for m in chat.messages if m.rendered.startswith("== Release api")][0]
    assert any("RL-02 Gates pass (G-REL): fail" in m.text for m in chat.thread(parent))
    github.check(REPO, sha, "test", "success")
    said = chat.command("U0ALICE", "/release check")
    assert f"RL-02: pass 2 passed on {sha[:10]} (GitHub acme/api): build success, test " \
           "success" in said.text
    ev = rev.evidence(chat.svc, rs.find(chat.svc, "1.3.0"))
    [rl02] = [x for x in ev["checks"] if x["id"] == "RL-02"]
    assert {(x["name"], x["conclusion"], x["commit"]) for x in rl02["details"]["checks"]} == \
        {("build", "success", sha), ("test", "success", sha)}
    assert all(x["url"].startswith("https://github.example/") for x in rl02["details"]["checks"])


def test_rl02_all_checks_statuses_and_accepted_neutral(tmp_path: Path, make_chat,
                                                        github) -> None:
    repo, sha = ready_repo(tmp_path)
    github.check(REPO, sha, "build", "success")
    github.check(REPO, sha, "docs", "neutral")
    github.status(REPO, sha, "ci/jenkins", "pending")
    chat = make_chat(github_config(repo, github, accept="[success, neutral]"))
    chat.command("U0ALICE", "/release start minor")
    assert "ci/jenkins (pending)" in _check(chat, "RL-02").evidence
    github.status(REPO, sha, "ci/jenkins", "error")
    said = chat.command("U0ALICE", "/release check")
    assert f"RL-02: fail 1 failing on {sha[:10]} (GitHub acme/api): ci/jenkins error " \
           f"<https://ci.example/acme/api/ci/jenkins/{sha[:7]}>" in said.text
    github.status(REPO, sha, "ci/jenkins", "success")
    said = chat.command("U0ALICE", "/release check")
    assert "RL-02: pass 3 passed" in said.text and "docs neutral" in said.text


def test_rl02_neutral_fails_unless_accepted(tmp_path: Path, make_chat, github) -> None:
    repo, sha = ready_repo(tmp_path)
    github.check(REPO, sha, "docs", "skipped")
    chat = make_chat(github_config(repo, github))
    chat.command("U0ALICE", "/release start minor")
    assert _check(chat, "RL-02").result == "fail"
    assert "docs skipped" in _check(chat, "RL-02").evidence


def _green(gh, sha: str) -> None:  # type: ignore[no-untyped-def]
    gh.add_pr(REPO, 11, "Users endpoint", "alice", "merged", milestone="1.3.0")
    gh.check(REPO, sha, "build", "success")


def test_execution_publishes_a_github_release_with_the_notes(tmp_path: Path, make_chat,
                                                              github) -> None:
    repo, sha = ready_repo(tmp_path)
    _green(github, sha)
    chat = make_chat(github_config(repo, github, publish_release="true"))
    chat.command("U0ALICE", "/release start minor")
    to_execution(chat)
    said = chat.command("U0ALICE", "/release advance")
    assert ":package: GitHub release v1.3.0 published: https://github.example/acme/api/" \
           "releases/tag/v1.3.0" in said.text
    [post] = github.calls("POST", "/repos/acme/api/releases")
    notes = (repo / "release-notes" / "v1.3.0.md").read_text()
    assert post.body == {"tag_name": "v1.3.0", "target_commitish": sha, "name": "api 1.3.0",
                         "body": notes, "draft": False, "prerelease": False}
    ev = rev.evidence(chat.svc, rs.find(chat.svc, "1.3.0"))
    assert ev["published"][0]["url"].endswith("/releases/tag/v1.3.0")
    assert ev["published"][0]["commit"] == sha
    # asking again finds the release instead of making a second one
    chat.command("U0ALICE", "/release publish 1.3.0")
    assert len(github.calls("POST", "/repos/acme/api/releases")) == 1


def test_prerelease_flag_and_failed_publish_is_said_and_retried(tmp_path: Path, make_chat,
                                                                 github) -> None:
    repo, sha = ready_repo(tmp_path, "1.3.0-rc.1")
    _green(github, sha)
    github.milestone(REPO, "1.3.0-rc.1")
    chat = make_chat(github_config(repo, github, publish_release="true"))
    chat.command("U0ALICE", "/release start 1.3.0-rc.1")
    to_execution(chat, "1.3.0-rc.1")
    github.fail_next("POST", "/repos/acme/api/releases", 403,
                     {"message": "Resource not accessible by personal access token"})
    said = chat.command("U0ALICE", "/release advance")
    assert "is now at Post-Release" in said.text
    assert (":warning: GitHub release v1.3.0-rc.1 was not created: GitHub: POST "
            "/repos/acme/api/releases answered 403 (Resource not accessible by personal access"
            " token): the token in GITHUB_TOKEN may not read acme/api") in said.text
    assert "`/release publish 1.3.0-rc.1` tries again" in said.text
    assert chat.audit("release.publish.failed")
    said = chat.command("U0ALICE", "/release publish 1.3.0-rc.1")
    assert "GitHub pre-release v1.3.0-rc.1 published" in said.text
    assert github.calls("POST", "/repos/acme/api/releases")[-1].body["prerelease"] is True


def test_rate_limits_are_honoured(tmp_path: Path, make_chat, github) -> None:
    repo, sha = ready_repo(tmp_path)
    github.check(REPO, sha, "build", "success")
    chat = make_chat(github_config(repo, github))
    github.fail_next("GET", "/repos/acme/api/commits", 429, {"message": "slow down"},
                     {"Retry-After": "7"})
    before = chat.clock.now()
    chat.command("U0ALICE", "/release start minor")
    # waited the 7 seconds asked (the fake clock sleeps by moving), then asked again
    assert (chat.clock.now() - before).total_seconds() >= 7
    assert _check(chat, "RL-02").result == "pass"
    # a primary rate limit resetting in an hour: not slept through; waits, re-checked then
    reset = int(chat.clock.now().timestamp()) + 3600
    github.fail_next("GET", "/repos/acme/api/commits", 403,
                     {"message": "API rate limit exceeded"},
                     {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)})
    github.check(REPO, sha, "test", "success")
    n = len(github.calls("GET", "/commits/"))
    chat.command("U0ALICE", "/release check")
    c = _check(chat, "RL-02")
    assert c.result == "waiting" and "rate limited until" in c.evidence
    assert len(github.calls("GET", "/commits/")) == n + 1  # not hammered
    [job] = [j for j in chat.svc.scheduler.jobs() if j[0].startswith("release-recheck:")]
    assert int(job[2].timestamp()) == reset + 1
    chat.clock.advance(seconds=3601)
    chat.run_due()
    assert _check(chat, "RL-02").result == "pass"


def test_bad_token_and_wrong_repo_fail_naming_the_fix(tmp_path: Path, make_chat, github,
                                                      monkeypatch) -> None:
    github.milestone(REPO, "1.3.0")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_wrongWRONGwrong0123456789")
    chat, _ = _start(make_chat, tmp_path, github)
    c = _check(chat, "RL-02")
    assert c.result == "fail"
    assert "answered 401 (Bad credentials): the token in GITHUB_TOKEN is missing, expired " \
           "or revoked" in c.evidence
    assert "ghp_wrong" not in c.evidence
    monkeypatch.setenv("GITHUB_TOKEN", GH_TOKEN)
    (tmp_path / "two").mkdir()
    repo2, _ = ready_repo(tmp_path / "two")
    chat2 = make_chat(github_config(repo2, github, repo="acme/nope"))
    chat2.command("U0ALICE", "/release start minor")
    c = rs.find(chat2.svc, "1.3.0").checks["RL-01"]
    assert c.result == "fail" and "answered 404" in c.evidence
    assert "check releases.products[api].github.repo (owner/name)" in c.evidence
    monkeypatch.delenv("GITHUB_TOKEN")
    said = chat2.command("U0ALICE", "/release check")
    assert "RL-02: fail GitHub: environment variable GITHUB_TOKEN is not set " \
           "(releases.products[api].github.token)" in said.text


def test_the_token_never_appears(tmp_path: Path, make_chat, github, caplog) -> None:
    caplog.set_level("DEBUG")
    repo, sha = ready_repo(tmp_path)
    github.add_pr(REPO, 12, f"Leaky {GH_TOKEN}", "octocat", "open", milestone="1.3.0")
    github.check(REPO, sha, "build", "failure")
    chat = make_chat(github_config(repo, github, publish_release="true"))
    chat.command("U0ALICE", "/release start minor")
    chat.command("U0ALICE", "/release check")
    chat.command("U0ALICE", "/release evidence")
    assert github.calls()[0].headers["authorization"] == f"Bearer {GH_TOKEN}"  # it was used
    seen = [str(c.params) for c in chat.api.state.calls]
    seen += [str(e.payload) for e in chat.svc.audit.entries()]
    seen += [str(rev.evidence(chat.svc, rs.find(chat.svc, "1.3.0")))]
    seen += [r.getMessage() for r in caplog.records]
    assert not [s for s in seen if GH_TOKEN in s]
    assert any("Leaky [REDACTED]" in s for s in seen)


def test_an_unexpected_answer_fails_the_check_instead_of_crashing(tmp_path: Path, make_chat,
                                                                   github) -> None:
    github.milestone(REPO, "1.3.0")
    github.fail_next("GET", "/repos/acme/api/issues", 200, {"not": "a list"})
    chat, _ = _start(make_chat, tmp_path, github)
    c = _check(chat, "RL-01")
    assert c.result == "fail"
    assert c.evidence.startswith("GitHub acme/api: unexpected answer (")
    assert "is api_url the REST API root?" in c.evidence
    said = chat.command("U0ALICE", "/release check")  # asked again: GitHub answers properly
    assert "RL-01: pass 0 merged, none open in milestone 1.3.0" in said.text
