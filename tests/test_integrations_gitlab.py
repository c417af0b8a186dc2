"""RL-01 and RL-02 decided by GitLab (a loopback fake recording every call): merge requests
by milestone, the pipeline (or its jobs) of the release commit, a GitLab release."""

from __future__ import annotations

from pathlib import Path

from bot.release import evidence as rev
from bot.release import service as rs
from tests.integration_fixtures import GL_TOKEN, gitlab_config, ready_repo, to_execution

PROJECT = "acme/api"


def _check(chat, cid: str):  # type: ignore[no-untyped-def]
    return rs.find(chat.svc, "1.3.0").checks[cid]


def test_merge_requests_by_milestone_and_the_pipeline_of_the_commit(tmp_path: Path,
                                                                     make_chat, gitlab) -> None:
    repo, sha = ready_repo(tmp_path)
    gitlab.add_mr(PROJECT, 7, "Users endpoint", "alice", "merged", milestone="1.3.0")
    gitlab.add_mr(PROJECT, 8, "Retry", "bob", "opened", milestone="1.3.0")
    gitlab.add_mr(PROJECT, 9, "Dropped", "carol", "closed", milestone="1.3.0")
    gitlab.pipeline(PROJECT, sha, "running")
    chat = make_chat(gitlab_config(repo, gitlab))
    chat.command("U0ALICE", "/release start minor")
    c1, c2 = _check(chat, "RL-01"), _check(chat, "RL-02")
    assert c1.result == "fail"
    assert c1.evidence == ("1 open in milestone 1.3.0 (GitLab acme/api): #8 Retry by bob "
                           "<https://gitlab.example/acme/api/-/merge_requests/8>. closed "
                           "without merging (information): #9 Dropped by carol "
                           "<https://gitlab.example/acme/api/-/merge_requests/9>")
    assert c2.result == "waiting" and "pipeline #501 (running)" in c2.evidence
    calls = gitlab.calls("GET", "/merge_requests")
    assert calls[0].query["milestone"] == "1.3.0" and calls[0].query["state"] == "all"
    assert calls[0].path == "/api/v4/projects/acme%2Fapi/merge_requests"
    assert calls[0].headers["private-token"] == GL_TOKEN
    assert gitlab.calls("GET", "/pipelines")[0].query["sha"] == sha
    gitlab.add_mr(PROJECT, 8, "Retry", "bob", "merged", milestone="1.3.0")
    gitlab.project(PROJECT).mrs.pop(1)  # the open copy of !8 is gone: it was merged
    gitlab.pipeline(PROJECT, sha, "success")  # a newer pipeline for the same commit
    chat.clock.advance(minutes=5)
    chat.run_due()  # the scheduled re-check
    assert _check(chat, "RL-02").result == "pass"
    said = chat.command("U0ALICE", "/release check")
    assert "RL-01: pass 2 merged, none open in milestone 1.3.0 (GitLab acme/api)" in said.text
    ev = rev.evidence(chat.svc, rs.find(chat.svc, "1.3.0"))
    [rl01] = [x for x in ev["checks"] if x["id"] == "RL-01"]
    assert {m["number"]: m["merge_sha"] for m in rl01["details"]["merged"]} == {
        7: "0007" + "cd" * 18, 8: "0008" + "cd" * 18}
    [rl02] = [x for x in ev["checks"] if x["id"] == "RL-02"]
    assert rl02["details"]["checks"] == [{
        "name": "pipeline #502", "kind": "pipeline", "conclusion": "success",
        "url": "https://gitlab.example/acme/api/-/pipelines/502", "commit": sha}]


def test_required_jobs_and_a_release_at_execution(tmp_path: Path, make_chat, gitlab) -> None:
    repo, sha = ready_repo(tmp_path)
    gitlab.add_mr(PROJECT, 7, "Users endpoint", "alice", "merged", milestone="1.3.0")
    gitlab.pipeline(PROJECT, sha, "failed", {"build": "success", "test": "failed",
                                             "lint": "failed"})
    chat = make_chat(gitlab_config(repo, gitlab, required_checks="[build, test]",
                                   publish_release="true"))
    chat.command("U0ALICE", "/release start minor")
    c = _check(chat, "RL-02")
    assert c.result == "fail"
    assert c.evidence == (f"1 failing on {sha[:10]} (GitLab acme/api): test failed "
                          "<https://gitlab.example/acme/api/-/jobs/50101>")
    gitlab.pipeline(PROJECT, sha, "failed", {"build": "success", "test": "success",
                                             "lint": "failed"})
    assert "RL-02: pass" in chat.command("U0ALICE", "/release check").text
    to_execution(chat)
    said = chat.command("U0ALICE", "/release advance")
    assert ":package: GitLab release v1.3.0 published: https://gitlab.example/acme/api/-/" \
           "releases/v1.3.0" in said.text
    [post] = gitlab.calls("POST", "/releases")
    assert post.body["tag_name"] == "v1.3.0" and post.body["ref"] == sha
    assert post.body["description"] == (repo / "release-notes" / "v1.3.0.md").read_text()


def test_missing_milestone_bad_token_and_unknown_project(tmp_path: Path, make_chat, gitlab,
                                                         monkeypatch) -> None:
    repo, _ = ready_repo(tmp_path)
    chat = make_chat(gitlab_config(repo, gitlab))
    chat.command("U0ALICE", "/release start minor")
    assert _check(chat, "RL-01").evidence == (
        "GitLab: no milestone '1.3.0' in acme/api: create it, or change "
        "releases.products[api].gitlab.milestone")
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-wrong-wrong-wrong")
    said = chat.command("U0ALICE", "/release check")
    assert "answered 401 (401 Unauthorized): the token in GITLAB_TOKEN is missing, expired " \
           "or revoked" in said.text
    assert "glpat-wrong" not in said.text
    monkeypatch.setenv("GITLAB_TOKEN", GL_TOKEN)
    gitlab.projects.clear()
    said = chat.command("U0ALICE", "/release check")
    assert "answered 404 (404 Project Not Found): no project acme/api at" in said.text
    assert "check releases.products[api].gitlab.project" in said.text


def test_gitlab_rate_limit_reset_is_honoured(tmp_path: Path, make_chat, gitlab) -> None:
    repo, sha = ready_repo(tmp_path)
    gitlab.pipeline(PROJECT, sha, "success")
    chat = make_chat(gitlab_config(repo, gitlab, milestone=None))
    reset = int(chat.clock.now().timestamp()) + 5
    gitlab.fail_next("GET", "/api/v4/projects/acme%2Fapi/pipelines", 429,
                     {"message": "Retry later"}, {"RateLimit-Reset": str(reset)})
    before = chat.clock.now()
    chat.command("U0ALICE", "/release start minor")
    assert (chat.clock.now() - before).total_seconds() >= 5
    assert _check(chat, "RL-02").result == "pass"
    assert _check(chat, "RL-01").result == "pending"  # no milestone/labels: a person decides
