"""``relbot console --fake-github``: the console with a GitHub stand-in on loopback, so RL-01
and RL-02 are decided from pull requests and checks a newcomer can change by typing.

With a config whose products have ``github:``, their ``api_url`` is pointed at the fake (the
token may be anything). Without one, a sandbox is built: a product repo ready for 1.3.0 and a
config whose product ``api`` asks the fake GitHub ``acme/api``, seeded with a milestone 1.3.0
holding a merged, an open and a closed pull request, and checks on the release commit (build
green, test still running).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bot.config import Config, load_config
from bot.git import git
from bot.standin.fakegithub import FakeGitHub

HELP = """\
  github merge N                merge pull request #N (fake GitHub)
  github pr N TITLE...          open pull request #N in the release's milestone
  github check NAME CONCLUSION  a check run on the release commit (success, failure,
                                neutral, skipped, timed_out; in_progress = still running)
  github status CONTEXT STATE   a commit status (success, pending, failure, error)
  github show                   pull requests and checks as GitHub has them
  github calls [N]              the last N API calls relbot made (default 10)"""

SANDBOX_CONFIG = """\
# written by relbot console --fake-github: product api asks the fake GitHub acme/api
channel: C0RELEASES
timezone: Europe/Berlin
approvers: [U0ALICE, U0BOB]
permissions:
  release: [U0ALICE, U0BOB]
releases:
  products:
    - name: api
      repo: product
      version_file: VERSION
      default: true
      github:
        repo: acme/api
        api_url: {url}
        token: env:GITHUB_TOKEN
        milestone: "{{version}}"
        required_checks: [build, test]
        publish_release: true
"""


class GitHubPlayground:
    """The fake GitHub plus what the console needs: the repo, the commit, its commands."""

    repo_name = "acme/api"

    def __init__(self, workdir: Path) -> None:
        self.fake = FakeGitHub().start()
        self.workdir = workdir
        self.product: Path | None = None
        self.milestone = "1.3.0"

    def close(self) -> None:
        self.fake.stop()

    def sandbox(self) -> Path:
        """Build the product repo and config; returns the config path."""
        self.product = self.workdir / "product"
        self.product.mkdir(parents=True)
        _commit_files(self.product, "chore: initial", {"VERSION": "1.2.0\n",
                      "CHANGELOG.md": "# Changelog\n\n## 1.2.0\n- first release\n"})
        git("tag", "-a", "v1.2.0", "-m", "v1.2.0", cwd=self.product)
        _commit_files(self.product, "feat: users endpoint", {"users.py": "USERS = []\n"})
        sha = _commit_files(self.product, "chore: release 1.3.0", {"VERSION": "1.3.0\n",
                            "CHANGELOG.md": "# Changelog\n\n## 1.3.0\n- users endpoint\n\n"
                                            "## 1.2.0\n- first release\n"})
        gh, r = self.fake, self.repo_name
        gh.add_pr(r, 41, "Users endpoint", "alice", "merged", milestone=self.milestone)
        gh.add_pr(r, 42, "Retry flaky uploads", "octocat", "open", milestone=self.milestone)
        gh.add_pr(r, 43, "Experimental cache", "bob", "closed", milestone=self.milestone)
        gh.check(r, sha, "build", "success")
        gh.check(r, sha, "test", None, status="in_progress")
        path = self.workdir / "relbot.yml"
        path.write_text(SANDBOX_CONFIG.format(url=self.fake.url))
        os.environ.setdefault("GITHUB_TOKEN", "fake-github-token")
        return path

    def commit(self) -> str:
        if self.product is not None:
            return git("rev-parse", "HEAD", cwd=self.product).strip()
        runs = [s for rp in self.fake.repos.values() for s in rp.check_runs]
        return runs[0] if runs else "0" * 40

    def handle(self, args: list[str]) -> str:
        """One ``github ...`` console command; returns what to print."""
        gh, r = self.fake, self.repo_name
        sub, rest = (args[0], args[1:]) if args else ("show", [])
        if sub == "merge" and rest:
            return f"(fake GitHub: #{rest[0]} merged as {gh.merge(r, int(rest[0]))[:10]})"
        if sub == "pr" and len(rest) >= 2:
            gh.add_pr(r, int(rest[0]), " ".join(rest[1:]), "octocat", "open",
                      milestone=self.milestone)
            return f"(fake GitHub: #{rest[0]} opened in milestone {self.milestone})"
        if sub == "check" and len(rest) == 2:
            running = rest[1] in ("in_progress", "queued")
            gh.check(r, self.commit(), rest[0], None if running else rest[1],
                     status=rest[1] if running else "completed")
            return f"(fake GitHub: check {rest[0]} {rest[1]} on {self.commit()[:10]})"
        if sub == "status" and len(rest) == 2:
            gh.status(r, self.commit(), rest[0], rest[1])
            return f"(fake GitHub: status {rest[0]} {rest[1]} on {self.commit()[:10]})"
        if sub == "calls":
            n = int(rest[0]) if rest else 10
            return "\n".join(f"  {c.method} {c.path}" + (f"?{_qs(c.query)}" if c.query else "")
                             for c in gh.calls()[-n:]) or "  (no calls yet)"
        if sub == "show":
            return self._show()
        return "console: github merge N | pr N TITLE | check NAME CONCLUSION | " \
               "status CONTEXT STATE | show | calls [N]"

    def _show(self) -> str:
        rp = self.fake.repo(self.repo_name)
        lines = [f"  fake GitHub {self.repo_name} at {self.fake.url}"]
        for i in rp.issues:
            if "pull_request" in i:
                state = "merged" if i["pull_request"]["merged_at"] else i["state"]
                lines.append(f"  #{i['number']} {i['title']} ({i['user']['login']}): {state}")
        for sha, runs in rp.check_runs.items():
            latest = {x["name"]: x for x in runs}
            lines += [f"  {sha[:10]} check {x['name']}: {x['conclusion'] or x['status']}"
                      for x in latest.values()]
        return "\n".join(lines)


def redirect(cfg: Config, url: str) -> tuple[Config, int]:
    """``cfg`` with every product's ``github.api_url`` pointed at ``url``; how many."""
    if cfg.releases is None:
        return cfg, 0
    n = 0
    products: list[Any] = []
    for p in cfg.releases.products:
        if p.github is not None:
            p = p.model_copy(update={"github": p.github.model_copy(update={"api_url": url})})
            os.environ.setdefault(p.github.token.removeprefix("env:"), "fake-github-token")
            n += 1
        products.append(p)
    releases = cfg.releases.model_copy(update={"products": tuple(products)})
    return cfg.model_copy(update={"releases": releases}), n


def prepare(config_path: str, workdir: Path) -> tuple[GitHubPlayground, Config, str, str]:
    """Start the fake; returns it, the config to run, its path and a line to print."""
    play = GitHubPlayground(workdir)
    cfg = load_config(config_path) if Path(config_path).is_file() else None
    if cfg is not None:
        cfg, n = redirect(cfg, play.fake.url)
        if n:
            return play, cfg, config_path, (f"fake GitHub at {play.fake.url} answers for "
                                            f"{n} product(s) of {config_path}")
    path = play.sandbox()
    return play, load_config(path), str(path), (
        f"fake GitHub at {play.fake.url} answers for acme/api; sandbox product api in "
        f"{play.product} (milestone 1.3.0: #41 merged, #42 open, #43 closed; checks on "
        f"{play.commit()[:10]}: build success, test running). Try /release start minor")


def _commit_files(repo: Path, message: str, files: dict[str, str]) -> str:
    if not (repo / ".git").exists():
        git("init", "-q", "-b", "main", cwd=repo)
    for name, text in files.items():
        (repo / name).write_text(text)
        git("add", name, cwd=repo)
    git("-c", "user.name=relbot console", "-c", "user.email=console@relbot.invalid",
        "commit", "-q", "-m", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).strip()


def _qs(query: dict[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in query.items())
