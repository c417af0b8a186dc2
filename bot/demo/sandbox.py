"""The demo's sandbox: real git repositories, bare "remotes", scripts and a complete config.

Everything lives under one directory, so ``relbot demo --keep DIR`` leaves something to explore:

    DIR/relbot.yml             the config (all four sync types, a release product, the
                               calendar, rollback)
    DIR/product/               the product's clone (releases are cut here; origin = remotes)
    DIR/remotes/*.git          bare repositories standing in for the hosted remotes
    DIR/rollback/*.sh          examples/rollback/: the rollback command and health check
                               (the "deployment" they change is the file DIR/deployed/api)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bot.errors import RelbotError
from bot.git import git

CONFIG_NAME = "relbot.yml"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_CONFIG = EXAMPLES / "relbot.yml"

_IDENTITY = {"GIT_AUTHOR_NAME": "Alice Example", "GIT_AUTHOR_EMAIL": "alice@example.invalid",
             "GIT_COMMITTER_NAME": "Alice Example",
             "GIT_COMMITTER_EMAIL": "alice@example.invalid"}

PRS_SH = """\
#!/bin/sh
# RL-01 All PRs merged: a real check would ask the forge for open PRs on the milestone.
echo "0 open pull requests on milestone $(cat VERSION)"
"""

GATES_SH = """\
#!/bin/sh
# RL-02 Gates pass (G-REL): a real check would run the test suite / read CI status.
set -e
grep -q '^[0-9][0-9]*\\.[0-9][0-9]*\\.[0-9][0-9]*$' VERSION
echo "G-REL: VERSION $(cat VERSION) well-formed, 42 tests passed"
"""


def ensure_git_identity() -> None:
    """The bot tags releases with ``git tag -a``, which needs a committer; on a fresh machine
    without ``user.email`` the demo supplies one for its own process."""
    probe = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True)
    if not probe.stdout.strip():
        for key, value in _IDENTITY.items():
            os.environ.setdefault(key, value)


def _commit(repo: Path, message: str, files: dict[str, str], when: str) -> str:
    for rel, text in files.items():
        f = repo / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    env = {**_IDENTITY, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo, env=env)
    return git("rev-parse", "HEAD", cwd=repo).strip()


def _tag(repo: Path, name: str, when: str) -> None:
    env = {**_IDENTITY, "GIT_COMMITTER_DATE": when}
    git("tag", "-a", name, "-m", f"api {name[1:]}", cwd=repo, env=env)


def _changelog(*versions: tuple[str, list[str]]) -> str:
    out = ["# Changelog", ""]
    for version, items in versions:
        out += [f"## {version}", *[f"- {i}" for i in items], ""]
    return "\n".join(out)


APP_YML_13 = "server:\n  port: 8080\ndb:\n  pool: 10\n  timeout: 5s\nfeatures:\n  search: false\n"
APP_YML_14 = "server:\n  port: 8080\ndb:\n  pool: 20\n  timeout: 5s\nfeatures:\n  search: true\n"
GUIDE_13 = "# Guide\n\nInstall the api, then call `GET /users`.\n"
GUIDE_14 = GUIDE_13 + "\nPages of 50 items: pass `?page=N`.\n"
SEARCH_MD = "# Search\n\n`GET /search?q=TEXT` returns matching users, best first.\n"


def _product_history(repo: Path) -> None:
    """v1.2.0 and v1.3.0 tagged, then the commits of the next release (not yet released)."""
    v12 = {"VERSION": "1.2.0\n", "CHANGELOG.md": _changelog(("1.2.0", ["users endpoint"])),
           "ci/prs-merged.sh": PRS_SH, "ci/gates.sh": GATES_SH,
           "docs/guide.md": GUIDE_13, "config/app.yml": APP_YML_13,
           "brand/colors.css": ":root { --brand: #2e5aac; }\n",
           "src/api.py": "def users():\n    return []\n"}
    _commit(repo, "feat: users endpoint", v12, "2026-10-12T10:00:00Z")
    _tag(repo, "v1.2.0", "2026-10-12T10:05:00Z")
    _commit(repo, "feat: pagination on /users",
            {"src/api.py": "def users(page=1):\n    return []\n"}, "2026-10-20T11:00:00Z")
    _commit(repo, "chore(release): 1.3.0",
            {"VERSION": "1.3.0\n", "CHANGELOG.md": _changelog(
                ("1.3.0", ["pagination on /users"]), ("1.2.0", ["users endpoint"]))},
            "2026-10-22T09:00:00Z")
    _tag(repo, "v1.3.0", "2026-10-22T09:05:00Z")
    _commit(repo, "feat(api): search endpoint",
            {"src/search.py": "def search(q):\n    return []\n", "docs/search.md": SEARCH_MD,
             "config/app.yml": APP_YML_14}, "2026-11-16T10:00:00Z")
    _commit(repo, "fix(worker): retry on timeout",
            {"src/worker.py": "RETRIES = 3\n"}, "2026-11-18T15:00:00Z")
    _commit(repo, "docs: pagination in the guide", {"docs/guide.md": GUIDE_14},
            "2026-11-19T09:30:00Z")
    _commit(repo, "test: search edge cases", {"tests/test_search.py": "def test_x(): pass\n"},
            "2026-11-20T16:00:00Z")


def _seed(root: Path, name: str, files: dict[str, str], message: str) -> Path:
    """A bare remote ``remotes/NAME.git`` holding one commit of ``files`` on main."""
    work = root / "work" / name
    work.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=work)
    _commit(work, message, files, "2026-10-01T09:00:00Z")
    bare = root / "remotes" / f"{name}.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=root)
    return bare


def build(root: Path) -> Path:
    """Create the sandbox under ``root`` (which must be empty or absent); returns the config."""
    if not EXAMPLE_CONFIG.is_file():
        raise RelbotError(f"relbot demo needs {EXAMPLE_CONFIG} (run it from a checkout: "
                          "python3 -m pip install -e '.[dev]')")
    root.mkdir(parents=True, exist_ok=True)
    (root / "remotes").mkdir()
    product = root / "product"
    product.mkdir()
    git("init", "-q", "-b", "main", cwd=product)
    _product_history(product)
    git("clone", "-q", "--bare", str(product), str(root / "remotes" / "product.git"), cwd=root)
    git("remote", "add", "origin", str(root / "remotes" / "product.git"), cwd=product)
    git("fetch", "-q", "origin", cwd=product)
    git("branch", "-q", "--set-upstream-to=origin/main", "main", cwd=product)
    _seed(root, "site", {"content/docs/guide.md": GUIDE_13, "index.md": "# api docs site\n"},
          "site: first version")
    _seed(root, "config", {"prod/api/app.yml": APP_YML_13, "ci/lint.yml": "rules: [yaml]\n",
                           "README.md": "Deployed configuration, one directory per service.\n"},
          "config: production values")
    shutil.rmtree(root / "work")
    shutil.copytree(EXAMPLES / "rollback", root / "rollback")
    (root / "deployed").mkdir()
    (root / "deployed" / "api").write_text("1.3.0\n")
    cfg = root / CONFIG_NAME
    cfg.write_text(EXAMPLE_CONFIG.read_text())
    return cfg


def commit_release_bump(product: Path, version: str, items: list[str]) -> str:
    """What a release manager pushes before the release: version file and changelog."""
    old = (product / "CHANGELOG.md").read_text().split("\n", 2)[2]
    text = f"# Changelog\n\n## {version}\n" + "".join(f"- {i}\n" for i in items) + "\n" + old
    sha = _commit(product, f"chore(release): {version}",
                  {"VERSION": f"{version}\n", "CHANGELOG.md": text}, "2026-11-23T08:05:00Z")
    git("push", "-q", "origin", "main", cwd=product)
    return sha
