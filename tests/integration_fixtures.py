"""Fixtures for the code host and paging tests: loopback GitHub / GitLab / PagerDuty fakes
with the tokens relbot reads from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.release import service as rs
from bot.standin.fakegithub import FakeGitHub
from bot.standin.fakegitlab import FakeGitLab
from bot.standin.fakepagerduty import FakePagerDuty
from tests.test_release_fixtures import commit, config, make_repo

GH_TOKEN = "ghp_fakeTOKEN0123456789abcdefSECRET"
GL_TOKEN = "glpat-fakeTOKEN0123456789SECRET"
PD_KEY = "R0UT1NGKEY0123456789abcdefSECRET"


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    monkeypatch.setenv("GITHUB_TOKEN", GH_TOKEN)
    gh = FakeGitHub(token=GH_TOKEN).start()
    gh.repo("acme/api")
    yield gh
    gh.stop()


@pytest.fixture
def gitlab(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitLab]:
    monkeypatch.setenv("GITLAB_TOKEN", GL_TOKEN)
    gl = FakeGitLab(token=GL_TOKEN).start()
    gl.project("acme/api")
    yield gl
    gl.stop()


@pytest.fixture
def pagerduty(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePagerDuty]:
    monkeypatch.setenv("PD_ROUTING_KEY", PD_KEY)
    pd = FakePagerDuty(routing_key=PD_KEY).start()
    yield pd
    pd.stop()


def ready_repo(tmp_path: Path, version: str = "1.3.0") -> tuple[Path, str]:
    """A repo whose HEAD is ready for ``version`` (changelog, version file); returns the
    repo and the candidate commit."""
    repo = make_repo(tmp_path, msgs=("feat: users endpoint", "fix: null deref"))
    sha = commit(repo, f"chore: bump {version}", {
        "pyproject.toml": f'version = "{version}"',
        "CHANGELOG.md": f"# Changelog\n\n## {version}\n- users"})
    return repo, sha


def github_config(git_repo: Path, gh: FakeGitHub, extra: str = "", **keys: str | None) -> str:
    """The release config of product ``api`` with a ``github:`` section at ``gh``."""
    lines = {"repo": "acme/api", "api_url": gh.url, "token": "env:GITHUB_TOKEN",
             "milestone": '"{version}"', **keys}
    body = "".join(f"        {k}: {v}\n" for k, v in lines.items() if v is not None)
    return config(git_repo, extra, "      github:\n" + body)


def gitlab_config(git_repo: Path, gl: FakeGitLab, extra: str = "", **keys: str | None) -> str:
    """The release config of product ``api`` with a ``gitlab:`` section at ``gl``."""
    lines = {"project": "acme/api", "api_url": gl.api_url, "token": "env:GITLAB_TOKEN",
             "milestone": '"{version}"', **keys}
    body = "".join(f"        {k}: {v}\n" for k, v in lines.items() if v is not None)
    return config(git_repo, extra, "      gitlab:\n" + body)


def to_execution(chat, version: str = "1.3.0") -> None:  # type: ignore[no-untyped-def]
    """Advance the release to Execution: notes drafted, RL-05/RL-06 confirmed by Bob."""
    assert "at RC" in chat.command("U0ALICE", "/release advance").text
    chat.command("U0BOB", "/release notes")
    assert "Validation" in chat.command("U0ALICE", "/release advance").text
    msg = [m for m in chat.messages if m.rendered.startswith("== Release api")][0]
    rid = rs.find(chat.svc, version).id
    for cid in ("RL-05", "RL-06"):
        chat.click("U0BOB", msg, f"release:check:{cid}", f"{rid}:{cid}")
    assert "Execution" in chat.command("U0ALICE", "/release advance").text
