"""GitHub REST API: pull requests of a milestone (or labels) through the issues endpoint,
check runs + the combined commit status of a commit, and a release for a tag."""

from __future__ import annotations

import os
from typing import Any

from bot.integrations.config import GitHubConfig
from bot.integrations.http import IntegrationError, JsonApi, Timing
from bot.integrations.model import Change, CheckRun, label_filter, render_template

_CONCLUSION = {"success": "success", "neutral": "neutral", "skipped": "skipped"}
_STATUS = {"success": "success", "pending": "pending", "failure": "failure",
           "error": "failure"}


class GitHub:
    """:class:`bot.integrations.model.CodeHost` for one product's ``github:`` section."""

    def __init__(self, product: str, cfg: GitHubConfig, timing: Timing) -> None:
        self.product, self.cfg = product, cfg
        self.label = f"GitHub {cfg.repo}"
        self._where = f"releases.products[{product}].github"
        env = cfg.token.removeprefix("env:")
        token = os.environ.get(env, "")
        if not token:
            raise IntegrationError("GitHub", f"environment variable {env} is not set "
                                   f"({self._where}.token); set it to a token that can read "
                                   f"{cfg.repo}")
        self._api = JsonApi("GitHub", cfg.api_url, {
            "Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28"}, timing, cfg.timeout.total_seconds())

    def close(self) -> None:
        self._api.close()

    def _call(self, fn: Any, *args: Any, **kw: Any) -> Any:
        try:
            return fn(*args, **kw)
        except IntegrationError as exc:
            raise self._explain(exc) from None

    def _explain(self, exc: IntegrationError) -> IntegrationError:
        env = self.cfg.token.removeprefix("env:")
        fix = {401: f"the token in {env} is missing, expired or revoked; set a valid one",
               403: f"the token in {env} may not read {self.cfg.repo}: give it Issues, "
                    "Pull requests, Checks and Commit statuses read access (Contents write "
                    "for publish_release), or SSO-authorise it for the organisation",
               404: f"no repository {self.cfg.repo} at {self.cfg.api_url} that the token can "
                    f"see; check {self._where}.repo (owner/name) and the token's repository "
                    "access"}.get(exc.status or 0)
        if fix is None or exc.retry_at is not None:
            return exc
        return IntegrationError("GitHub", f"{str(exc).removeprefix('GitHub: ')}: {fix}",
                                exc.status)

    def changes(self, version: str) -> tuple[list[Change], str]:
        return self._call(self._changes, version)

    def _changes(self, version: str) -> tuple[list[Change], str]:
        repo, params, where = self.cfg.repo, {"state": "all"}, []
        if self.cfg.milestone:
            title = render_template(self.cfg.milestone, self.product, version)
            params["milestone"] = str(self._milestone_number(title))
            where.append(f"milestone {title}")
        if self.cfg.labels:
            params["labels"], described = label_filter(self.cfg.labels, self.product, version)
            where.append(described)
        out = []
        for item in self._api.get_all(f"repos/{repo}/issues", params):
            pr = item.get("pull_request")
            if pr is None:
                continue  # an issue, not a pull request
            state = "open" if item["state"] == "open" else (
                "merged" if pr.get("merged_at") else "closed")
            sha = None
            if state == "merged":
                sha = self._api.get(f"repos/{repo}/pulls/{item['number']}").json().get(
                    "merge_commit_sha")
            out.append(Change(item["number"], item["title"], (item.get("user") or {}).get(
                "login", "?"), item.get("html_url", ""), state, sha))
        return sorted(out, key=lambda c: c.number), " and ".join(where)

    def _milestone_number(self, title: str) -> int:
        for m in self._api.get_all(f"repos/{self.cfg.repo}/milestones", {"state": "all"}):
            if m.get("title") == title:
                return int(m["number"])
        raise IntegrationError("GitHub", f"no milestone {title!r} in {self.cfg.repo}: create "
                               f"it, or change {self._where}.milestone")

    def checks(self, commit: str) -> list[CheckRun]:
        return self._call(self._checks, commit)

    def _checks(self, commit: str) -> list[CheckRun]:
        repo = self.cfg.repo
        latest: dict[str, dict] = {}
        for run in self._api.get_all(f"repos/{repo}/commits/{commit}/check-runs",
                                     key="check_runs"):
            seen = latest.get(run["name"])
            if seen is None or run.get("id", 0) > seen.get("id", 0):  # a re-run wins
                latest[run["name"]] = run
        out = [self._run(r, commit) for r in latest.values()]
        status = self._api.get(f"repos/{repo}/commits/{commit}/status",
                               {"per_page": 100}).json()
        for s in status.get("statuses", []):
            if s["context"] not in latest:
                out.append(CheckRun(s["context"], _STATUS.get(s["state"], "failure"),  # type: ignore[arg-type]
                                    s["state"], s.get("target_url") or "",
                                    status.get("sha", commit), "status"))
        return out

    @staticmethod
    def _run(r: dict, commit: str) -> CheckRun:
        if r.get("status") != "completed":
            return CheckRun(r["name"], "pending", r.get("status") or "queued",
                            r.get("html_url") or r.get("details_url") or "",
                            r.get("head_sha", commit))
        conclusion = r.get("conclusion") or "unknown"
        return CheckRun(r["name"], _CONCLUSION.get(conclusion, "failure"),  # type: ignore[arg-type]
                        conclusion, r.get("html_url") or r.get("details_url") or "",
                        r.get("head_sha", commit))

    def publish(self, tag: str, commit: str, title: str, notes: str,
                prerelease: bool) -> str:
        return self._call(self._publish, tag, commit, title, notes, prerelease)

    def _publish(self, tag: str, commit: str, title: str, notes: str,
                 prerelease: bool) -> str:
        repo = self.cfg.repo
        found = self._api.get(f"repos/{repo}/releases/tags/{tag}", ok=(200, 404))
        if found.status_code == 200:
            return found.json().get("html_url", "")
        made = self._api.request("POST", f"repos/{repo}/releases", json={
            "tag_name": tag, "target_commitish": commit, "name": title, "body": notes,
            "draft": False, "prerelease": prerelease}, ok=(201,))
        return made.json().get("html_url", "")
