"""``relbot demo`` as a new user runs it: a subprocess, real repos, the transcript it prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.git import git
from tests.cli import relbot

ROOT = Path(__file__).resolve().parent.parent


def _relbot(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_demo_plays_the_story_and_keeps_the_sandbox(tmp_path: Path) -> None:
    box = tmp_path / "box"
    r = _relbot("demo", "--keep", str(box), cwd=tmp_path)
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    assert "Traceback" not in out + r.stderr
    assert "FAILED" not in out
    # /release start proposed the bump and said why
    assert "Started api 1.4.0 (minor): proposed minor from:" in out
    assert "feat(api): search endpoint" in out
    # the pushed tag's tree holds the bump (checked here, not only in the transcript)
    remote = box / "remotes" / "product.git"
    assert git("show", "v1.4.0:VERSION", cwd=remote).strip() == "1.4.0"
    assert "## 1.4.0" in git("show", "v1.4.0:CHANGELOG.md", cwd=remote)
    assert git("cat-file", "-t", "v1.4.0", cwd=remote).strip() == "tag"
    # one refused self-approval, then the sync's commit in the docs site
    assert out.count("was not counted: self-approval is not allowed") == 1
    site = box / "remotes" / "site.git"
    assert git("log", "-1", "--format=%s", "main", cwd=site).startswith("docs from product@")
    assert git("show", "main:content/docs/search.md", cwd=site) == \
        git("show", "v1.4.0:docs/search.md", cwd=remote)
    # the stabilization reminder exactly once across the restart
    assert out.count("Stabilization week for") == 1
    assert "started again on the same database" in out
    # RB-IMM ran the sandbox's deploy script; the lock refused a release; resolved
    assert (box / "deployed" / "api").read_text().strip() == "1.3.0"
    assert "Releases of api are refused until then." in out
    assert "api unlocked by <@U0DAVE> (RB-0001)" in out
    # the audit chain verifies outside the demo's process too
    v = relbot("audit", "verify", "--db", str(box / "relbot.db"), cwd=tmp_path)
    assert v.returncode == 0 and "audit log intact" in v.stdout
    assert f"relbot console --config {box}/relbot.yml --db {box}/relbot.db --clock" in out
    # examples/relbot.yml is the config the demo ran
    assert (box / "relbot.yml").read_text() == (ROOT / "examples" / "relbot.yml").read_text()


def test_demo_refuses_a_non_empty_keep_directory(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "file").write_text("mine")
    r = relbot("demo", "--keep", str(tmp_path / "x"), cwd=tmp_path,
               in_process=True)   # refused before the demo sets up its logging
    assert r.returncode == 2
    assert "directory is not empty" in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "x" / "file").read_text() == "mine"



def test_ci_runs_the_two_commands_readme_opens_with() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Try it", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [ln.split("#", 1)[0].strip() for ln in block.splitlines() if ln.strip()]
    assert commands == ["python3 -m pip install -e '.[dev]' && relbot demo", "python -m pytest"]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    for c in commands:
        assert c in ci, c
