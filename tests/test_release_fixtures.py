"""Shared helpers for release tests: real git repos with tags and conventional commits."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.git import git
from tests.repos import built

if TYPE_CHECKING:
    from bot.services import Services


def commit(repo: Path, msg: str, files: dict[str, str] | None = None) -> str:
    for name, text in (files or {"f.txt": msg}).items():
        p = repo / name
        p.write_text((p.read_text() if p.exists() and name == "f.txt" else "") + text + "\n")
        git("add", name, cwd=repo)
    git("commit", "-q", "-m", msg, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).strip()


def make_repo(tmp: Path, tag: str | None = "v1.2.0", msgs: tuple[str, ...] = (),
              then: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()) -> Path:
    """``tmp/api``: version 1.2.0 and its changelog, ``tag`` on that commit, one commit per
    message in ``msgs``, then one per ``(message, files)`` in ``then`` (see
    :func:`tests.repos.built`)."""
    def build(where: Path) -> None:
        repo = where / "api"
        repo.mkdir()
        git("init", "-q", "-b", "main", cwd=repo)
        commit(repo, "chore: initial", {"pyproject.toml": 'version = "1.2.0"',
                                        "CHANGELOG.md": "# Changelog\n\n## 1.2.0\n- first"})
        if tag:
            git("tag", "-a", tag, "-m", tag, cwd=repo)
        for m in msgs:
            commit(repo, m)
        for m, files in then:
            commit(repo, m, dict(files))

    built(("make_repo", tag, msgs, then), tmp, build)
    return tmp / "api"


def config(repo: Path, extra: str = "", product_extra: str = "") -> str:
    return f"""\
channel: C0RELEASES
timezone: Europe/Berlin
approvers: [U0ALICE, U0BOB]
permissions:
  release: [U0ALICE, U0BOB, "@release-managers"]
releases:
  products:
    - name: api
      repo: {repo}
      default: true
{product_extra}{extra}"""


def jump(svc: Services, version: str, to: str) -> None:
    """Test set-up: move the release's action to ``to`` (a step or ``released``) through its
    status machine's own moves, skipping the gates (what many advances would do)."""
    from bot.release import service as rs
    from bot.release.checks import STEPS

    row = rs.find(svc, version)
    path = [*STEPS, "released"]
    for status in path[path.index(row.step) + 1:path.index(to) + 1]:
        assert svc.actions.move("release", str(row.id), status)
