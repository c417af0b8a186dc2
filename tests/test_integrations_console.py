"""``relbot console --fake-github``: a newcomer sees RL-01 and RL-02 decided from pull
requests and checks of a GitHub stand-in (a real subprocess, as typed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_console_with_fake_github_decides_rl01_and_rl02(tmp_path: Path) -> None:
    script = (REPO_ROOT / "examples" / "console-github.txt").read_text()
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_TOKEN"}
    r = subprocess.run([sys.executable, "-m", "bot", "console", "--fake-github",
                        "--config", str(tmp_path / "none.yml")], input=script,
                       capture_output=True, text=True, cwd=tmp_path, timeout=120,
                       env={**env, "PYTHONPATH": str(REPO_ROOT)})
    out = r.stdout
    assert r.returncode == 0, r.stderr
    assert "#42 Retry flaky uploads (octocat): open" in out
    assert ":x: RL-01 All PRs merged: fail — relbot · 1 open in milestone 1.3.0 (GitHub " \
           "acme/api): #42 Retry flaky uploads by octocat" in out
    assert ":hourglass_flowing_sand: RL-02 Gates pass (G-REL): waiting" in out
    assert "(fake GitHub: #42 merged as 0042ababab)" in out
    assert "RL-02: fail 1 failing on" in out and "test failure <https://github.example/" in out
    assert "RL-01: pass 2 merged, none open in milestone 1.3.0 (GitHub acme/api)" in out
    assert "RL-02: pass 2 passed on" in out and "build success, test success" in out
    assert "api 1.3.0 is now at RC" in out
    assert "GET /repos/acme/api/issues?" in out and "/check-runs?per_page=100" in out
    assert "fake-github-token" not in out + r.stderr
