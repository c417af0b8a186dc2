"""GitLab REST API v4: merge requests of a milestone, the pipeline (or its jobs) for a commit,
and a release for a tag."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

from bot.integrations.config import GitLabConfig
from bot.integrations.http import IntegrationError, JsonApi, Timing
from bot.integrations.model import Change, CheckRun, label_filter, render_template

_STATE = {"success": "success", "skipped": "skipped", "failed": "failure",
          "canceled": "failure", "canceling": "failure"}
# created, waiting_for_resource, preparing, pending, running, manual, scheduled: not decided


class GitLab:
    """:class:`bot.integrations.model.CodeHost` for one product's ``gitlab:`` section."""

    def __init__(self, product: str, cfg: GitLabConfig, timing: Timing) -> None:
        self.product, self.cfg = product, cfg
        self.label = f"GitLab {cfg.project}"
        self._where = f"releases.products[{product}].gitlab"
        self._pid = quote(cfg.project, safe="")
        env = cfg.token.removeprefix("env:")
        token = os.environ.get(env, "")
        if not token:
            raise IntegrationError("GitLab", f"environment variable {env} is not set "
                                   f"({self._where}.token); set it to a token with read_api "
                                   f"on {cfg.project}")
        self._api = JsonApi("GitLab", cfg.api_url, {"PRIVATE-TOKEN": token}, timing,
                            cfg.timeout.total_seconds())

    def close(self) -> None:
        self._api.close()

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except IntegrationError as exc:
            env = self.cfg.token.removeprefix("env:")
            fix = {401: f"the token in {env} is missing, expired or revoked; set a valid one",
                   403: f"the token in {env} may not read {self.cfg.project}: it needs the "
                        "read_api scope (api to publish releases) and at least Reporter role",
                   404: f"no project {self.cfg.project} at {self.cfg.api_url} that the token "
                        f"can see; check {self._where}.project"}.get(exc.status or 0)
            if fix is None or exc.retry_at is not None:
                raise
            raise IntegrationError("GitLab", f"{str(exc).removeprefix('GitLab: ')}: {fix}",
                                   exc.status) from None

    def changes(self, version: str) -> tuple[list[Change], str]:
        return self._call(self._changes, version)

    def _changes(self, version: str) -> tuple[list[Change], str]:
        params: dict[str, str] = {"state": "all"}
        where = []
        if self.cfg.milestone:
            title = render_template(self.cfg.milestone, self.product, version)
            found = self._api.get(f"projects/{self._pid}/milestones", {"title": title}).json()
            if not found:
                raise IntegrationError("GitLab", f"no milestone {title!r} in "
                                       f"{self.cfg.project}: create it, or change "
                                       f"{self._where}.milestone")
            params["milestone"] = title
            where.append(f"milestone {title}")
        if self.cfg.labels:
            params["labels"], described = label_filter(self.cfg.labels, self.product, version)
            where.append(described)
        out = []
        for mr in self._api.get_all(f"projects/{self._pid}/merge_requests", params):
            state = {"opened": "open", "locked": "open", "merged": "merged"}.get(
                mr["state"], "closed")
            sha = mr.get("merge_commit_sha") or mr.get("squash_commit_sha") \
                if state == "merged" else None
            out.append(Change(mr["iid"], mr["title"], (mr.get("author") or {}).get(
                "username", "?"), mr.get("web_url", ""), state, sha))  # type: ignore[arg-type]
        return sorted(out, key=lambda c: c.number), " and ".join(where)

    def checks(self, commit: str) -> list[CheckRun]:
        return self._call(self._checks, commit)

    def _checks(self, commit: str) -> list[CheckRun]:
        pipes = self._api.get(f"projects/{self._pid}/pipelines", {
            "sha": commit, "order_by": "id", "sort": "desc", "per_page": 20}).json()
        if not pipes:
            return []
        p = max(pipes, key=lambda x: x["id"])  # the latest pipeline for the commit
        if self.cfg.required_checks is None:
            return [_run(f"pipeline #{p['id']}", p["status"], p.get("web_url", ""), commit,
                         "pipeline")]
        jobs = self._api.get_all(f"projects/{self._pid}/pipelines/{p['id']}/jobs")
        latest: dict[str, dict] = {}
        for j in jobs:
            if j["name"] not in latest or j["id"] > latest[j["name"]]["id"]:
                latest[j["name"]] = j
        return [_run(j["name"], j["status"], j.get("web_url", ""), commit, "job")
                for j in latest.values()]

    def publish(self, tag: str, commit: str, title: str, notes: str,
                prerelease: bool) -> str:
        return self._call(self._publish, tag, commit, title, notes)

    def _publish(self, tag: str, commit: str, title: str, notes: str) -> str:
        base = f"projects/{self._pid}/releases"
        found = self._api.get(f"{base}/{quote(tag, safe='')}", ok=(200, 404))
        if found.status_code == 200:
            return (found.json().get("_links") or {}).get("self", "")
        made = self._api.request("POST", base, json={
            "tag_name": tag, "ref": commit, "name": title, "description": notes}, ok=(201,))
        return (made.json().get("_links") or {}).get("self", "")


def _run(name: str, status: str, url: str, commit: str, kind: str) -> CheckRun:
    return CheckRun(name, _STATE.get(status, "pending"), status, url, commit, kind)  # type: ignore[arg-type]
