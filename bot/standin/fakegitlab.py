"""A GitLab REST API v4 stand-in on loopback: milestones, merge requests, pipelines and their
jobs, releases; every call recorded. ``url`` + ``/api/v4`` is the ``api_url``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from bot.standin.fakehttp import Answer, FakeService, paged


@dataclass
class Project:
    milestones: list[str] = field(default_factory=list)
    mrs: list[dict] = field(default_factory=list)
    pipelines: list[dict] = field(default_factory=list)
    jobs: dict[int, list[dict]] = field(default_factory=dict)
    releases: list[dict] = field(default_factory=list)


class FakeGitLab(FakeService):
    name = "gitlab"

    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self.token = token
        self.projects: dict[str, Project] = {}
        self._ids = 500
        p = "/api/v4/projects/(?P<p>[^/]+)"
        self.route("GET", f"{p}/milestones", self._milestones)
        self.route("GET", f"{p}/merge_requests", self._mrs)
        self.route("GET", f"{p}/pipelines", self._pipelines)
        self.route("GET", f"{p}/pipelines/(?P<id>\\d+)/jobs", self._jobs)
        self.route("GET", f"{p}/releases/(?P<tag>[^/]+)", self._release)
        self.route("POST", f"{p}/releases", self._create_release)

    @property
    def api_url(self) -> str:
        return self.url + "/api/v4"

    def project(self, name: str) -> Project:
        return self.projects.setdefault(name, Project())

    def add_mr(self, project: str, iid: int, title: str, author: str = "dev",
               state: str = "opened", milestone: str | None = None) -> None:
        """A merge request: ``state`` opened, merged or closed."""
        pr = self.project(project)
        if milestone and milestone not in pr.milestones:
            pr.milestones.append(milestone)
        pr.mrs.append({"iid": iid, "title": title, "author": {"username": author},
                       "state": state, "milestone": {"title": milestone} if milestone else None,
                       "web_url": f"https://gitlab.example/{project}/-/merge_requests/{iid}",
                       "merge_commit_sha": f"{iid:04d}" + "cd" * 18 if state == "merged"
                       else None, "squash_commit_sha": None})

    def pipeline(self, project: str, sha: str, status: str,
                 jobs: dict[str, str] | None = None) -> int:
        """A pipeline for ``sha`` with ``jobs`` (name -> status); returns its ID."""
        self._ids += 1
        pid = self._ids
        self.project(project).pipelines.append({
            "id": pid, "sha": sha, "status": status, "ref": "main",
            "web_url": f"https://gitlab.example/{project}/-/pipelines/{pid}"})
        self.project(project).jobs[pid] = [
            {"id": pid * 100 + i, "name": n, "status": s,
             "web_url": f"https://gitlab.example/{project}/-/jobs/{pid * 100 + i}"}
            for i, (n, s) in enumerate((jobs or {}).items())]
        return pid

    def authorise(self, headers: dict[str, str]) -> Answer | None:
        tok = {k.lower(): v for k, v in headers.items()}.get("private-token")
        if self.token is not None and tok != self.token:
            return 401, {"message": "401 Unauthorized"}, {}
        return None

    def _proj(self, m: re.Match) -> Project | None:
        return self.projects.get(unquote(m["p"]))

    def _milestones(self, m: re.Match, q: dict, body: Any) -> Answer:
        pr = self._proj(m)
        if pr is None:
            return 404, {"message": "404 Project Not Found"}, {}
        titles = [t for t in pr.milestones if q.get("title") in (None, t)]
        return 200, [{"id": i, "title": t} for i, t in enumerate(titles, 1)], {}

    def _mrs(self, m: re.Match, q: dict, body: Any) -> Answer:
        pr = self._proj(m)
        if pr is None:
            return 404, {"message": "404 Project Not Found"}, {}
        items = [x for x in pr.mrs if q.get("milestone") is None or
                 (x["milestone"] or {}).get("title") == q["milestone"]]
        return paged(items, q, self.url, m.string)

    def _pipelines(self, m: re.Match, q: dict, body: Any) -> Answer:
        pr = self._proj(m)
        if pr is None:
            return 404, {"message": "404 Project Not Found"}, {}
        items = sorted((p for p in pr.pipelines if q.get("sha") in (None, p["sha"])),
                       key=lambda p: -p["id"])
        return 200, items, {}

    def _jobs(self, m: re.Match, q: dict, body: Any) -> Answer:
        pr = self._proj(m)
        if pr is None or int(m["id"]) not in pr.jobs:
            return 404, {"message": "404 Not found"}, {}
        return paged(pr.jobs[int(m["id"])], q, self.url, m.string)

    def _release(self, m: re.Match, q: dict, body: Any) -> Answer:
        pr = self._proj(m)
        rel = next((r for r in pr.releases if r["tag_name"] == unquote(m["tag"])), None) \
            if pr else None
        return (200, rel, {}) if rel else (404, {"message": "404 Not Found"}, {})

    def _create_release(self, m: re.Match, q: dict, body: Any) -> Answer:
        pr = self._proj(m)
        if pr is None:
            return 404, {"message": "404 Project Not Found"}, {}
        rel = {**body, "_links": {"self": f"https://gitlab.example/{unquote(m['p'])}/-/"
                                          f"releases/{body.get('tag_name')}"}}
        pr.releases.append(rel)
        return 201, rel, {}
