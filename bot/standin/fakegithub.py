"""A GitHub REST API stand-in on loopback: milestones, issues/pull requests, check runs,
commit statuses and releases of a few repositories, every call recorded."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.standin.fakehttp import Answer, FakeService, paged


@dataclass
class Repo:
    milestones: list[dict] = field(default_factory=list)
    issues: list[dict] = field(default_factory=list)
    pulls: dict[int, dict] = field(default_factory=dict)
    check_runs: dict[str, list[dict]] = field(default_factory=dict)
    statuses: dict[str, list[dict]] = field(default_factory=dict)
    releases: list[dict] = field(default_factory=list)


class FakeGitHub(FakeService):
    """``FakeGitHub(token="t").start()``; ``url`` is the ``api_url`` to configure."""

    name = "github"

    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self.token = token
        self.repos: dict[str, Repo] = {}
        self._ids = 1000
        r = "/repos/(?P<o>[^/]+)/(?P<r>[^/]+)"
        self.route("GET", f"{r}/milestones", self._milestones)
        self.route("GET", f"{r}/issues", self._issues)
        self.route("GET", f"{r}/pulls/(?P<n>\\d+)", self._pull)
        self.route("GET", f"{r}/commits/(?P<sha>[^/]+)/check-runs", self._check_runs)
        self.route("GET", f"{r}/commits/(?P<sha>[^/]+)/status", self._status)
        self.route("GET", f"{r}/releases/tags/(?P<tag>.+)", self._release_by_tag)
        self.route("POST", f"{r}/releases", self._create_release)

    # --- setup helpers ------------------------------------------------------------------
    def repo(self, name: str) -> Repo:
        return self.repos.setdefault(name, Repo())

    def _id(self) -> int:
        self._ids += 1
        return self._ids

    def milestone(self, repo: str, title: str) -> int:
        """Create (or find) a milestone; returns its number."""
        rp = self.repo(repo)
        for m in rp.milestones:
            if m["title"] == title:
                return m["number"]
        num = len(rp.milestones) + 1
        rp.milestones.append({"number": num, "title": title, "state": "open"})
        return num

    def add_pr(self, repo: str, number: int, title: str, author: str = "octocat",
               state: str = "open", milestone: str | None = None,
               labels: tuple[str, ...] = ()) -> None:
        """A pull request: ``state`` open, merged or closed (closed without merging)."""
        rp = self.repo(repo)
        ms = self.milestone(repo, milestone) if milestone else None
        url = f"https://github.example/{repo}/pull/{number}"
        rp.issues.append({
            "number": number, "title": title, "user": {"login": author}, "html_url": url,
            "state": "open" if state == "open" else "closed",
            "milestone": {"number": ms, "title": milestone} if ms else None,
            "labels": [{"name": x} for x in labels],
            "pull_request": {"url": url, "merged_at": None}})
        rp.pulls[number] = {"number": number, "merge_commit_sha": None, "merged": False}
        if state == "merged":
            self.merge(repo, number)

    def add_issue(self, repo: str, number: int, title: str, milestone: str) -> None:
        """A plain issue in the milestone (RL-01 must ignore it)."""
        ms = self.milestone(repo, milestone)
        self.repo(repo).issues.append({
            "number": number, "title": title, "user": {"login": "someone"}, "state": "open",
            "html_url": f"https://github.example/{repo}/issues/{number}",
            "milestone": {"number": ms, "title": milestone}, "labels": []})

    def merge(self, repo: str, number: int) -> str:
        """Merge pull request ``number``; returns its merge commit SHA."""
        rp = self.repo(repo)
        sha = f"{number:04d}" + "ab" * 18
        for i in rp.issues:
            if i["number"] == number:
                i["state"] = "closed"
                i["pull_request"]["merged_at"] = "2026-01-05T09:00:00Z"
        rp.pulls[number].update(merge_commit_sha=sha, merged=True)
        return sha

    def check(self, repo: str, sha: str, name: str, conclusion: str | None = "success",
              status: str = "completed") -> None:
        """Add a check run on ``sha`` (a later one of the same name is a re-run)."""
        rid = self._id()
        self.repo(repo).check_runs.setdefault(sha, []).append({
            "id": rid, "name": name, "head_sha": sha, "status": status,
            "conclusion": conclusion if status == "completed" else None,
            "html_url": f"https://github.example/{repo}/runs/{rid}"})

    def status(self, repo: str, sha: str, context: str, state: str) -> None:
        """Set a commit status (success, pending, failure, error) on ``sha``."""
        sts = self.repo(repo).statuses.setdefault(sha, [])
        sts[:] = [s for s in sts if s["context"] != context]
        sts.append({"context": context, "state": state,
                    "target_url": f"https://ci.example/{repo}/{context}/{sha[:7]}"})

    # --- routes ---------------------------------------------------------------------------
    def authorise(self, headers: dict[str, str]) -> Answer | None:
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization")
        if self.token is not None and auth != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}, {}
        return None

    def _repo(self, m: re.Match) -> Repo | None:
        return self.repos.get(f"{m['o']}/{m['r']}")

    def _milestones(self, m: re.Match, q: dict, body: Any) -> Answer:
        rp = self._repo(m)
        if rp is None:
            return 404, {"message": "Not Found"}, {}
        return paged(rp.milestones, q, self.url, m.string)

    def _issues(self, m: re.Match, q: dict, body: Any) -> Answer:
        rp = self._repo(m)
        if rp is None:
            return 404, {"message": "Not Found"}, {}
        items = rp.issues
        if q.get("milestone") not in (None, "*"):
            items = [i for i in items if i["milestone"] and
                     str(i["milestone"]["number"]) == q["milestone"]]
        if q.get("labels"):
            want = set(q["labels"].split(","))
            items = [i for i in items if want <= {x["name"] for x in i["labels"]}]
        if q.get("state", "open") != "all":
            items = [i for i in items if i["state"] == q.get("state", "open")]
        return paged(items, q, self.url, m.string)

    def _pull(self, m: re.Match, q: dict, body: Any) -> Answer:
        rp = self._repo(m)
        pr = rp.pulls.get(int(m["n"])) if rp else None
        return (200, pr, {}) if pr else (404, {"message": "Not Found"}, {})

    def _check_runs(self, m: re.Match, q: dict, body: Any) -> Answer:
        rp = self._repo(m)
        if rp is None:
            return 404, {"message": "Not Found"}, {}
        runs = rp.check_runs.get(m["sha"], [])
        return paged(runs, q, self.url, m.string,
                     lambda chunk: {"total_count": len(runs), "check_runs": chunk})

    def _status(self, m: re.Match, q: dict, body: Any) -> Answer:
        rp = self._repo(m)
        if rp is None:
            return 404, {"message": "Not Found"}, {}
        sts = rp.statuses.get(m["sha"], [])
        states = {s["state"] for s in sts}
        combined = "failure" if states & {"failure", "error"} else (
            "pending" if "pending" in states or not sts else "success")
        return 200, {"state": combined, "sha": m["sha"], "statuses": sts,
                     "total_count": len(sts)}, {}

    def _release_by_tag(self, m: re.Match, q: dict, body: Any) -> Answer:
        rp = self._repo(m)
        rel = next((r for r in rp.releases if r["tag_name"] == m["tag"]), None) if rp else None
        return (200, rel, {}) if rel else (404, {"message": "Not Found"}, {})

    def _create_release(self, m: re.Match, q: dict, body: Any) -> Answer:
        rp = self._repo(m)
        if rp is None:
            return 404, {"message": "Not Found"}, {}
        if any(r["tag_name"] == body.get("tag_name") for r in rp.releases):
            return 422, {"message": "Validation Failed",
                         "errors": [{"code": "already_exists"}]}, {}
        rid = self._id()
        rel = {**body, "id": rid,
               "html_url": f"https://github.example/{m['o']}/{m['r']}/releases/tag/"
                           f"{body.get('tag_name')}"}
        rp.releases.append(rel)
        return 201, rel, {}
