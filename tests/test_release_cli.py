"""relbot release CLI as a user runs it: propose, evidence YAML round-trip, verify."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.cli import relbot
from tests.test_release_fixtures import commit, config, make_repo


def test_propose_says_why(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, msgs=("fix: a", "feat: b"))
    cfg = tmp_path / "relbot.yml"
    cfg.write_text(config(repo))
    r = relbot("--config", str(cfg), "--db", str(tmp_path / "x.db"), "release", "propose", "api")
    assert r.returncode == 0, r.stderr
    assert "api: minor -> 1.3.0 (bi-weekly); last release 1.2.0" in r.stdout
    assert "feat: b" in r.stdout and "fix: a" not in r.stdout


def test_evidence_round_trip_and_verification(tmp_path: Path, make_chat) -> None:
    repo = make_repo(tmp_path, msgs=("feat: b",))
    commit(repo, "chore: bump", {"pyproject.toml": 'version = "1.3.0"'})
    chat = make_chat(config(repo))
    chat.command("U0ALICE", "/release start api")
    chat.command("U0BOB", "/release waive RL-01 hotfix branch")
    base = ("--config", str(chat.config_path), "--db", str(chat.db_path))
    r = relbot(*base, "release", "evidence", "1.3.0", "--product", "api", "--format", "yaml")
    assert r.returncode == 0, r.stderr
    rec = yaml.safe_load(r.stdout)
    assert rec["version"] == "1.3.0" and rec["commit"] == chat.svc.releases.find(
        "api", "1.3.0").commit
    rl01 = next(c for c in rec["checks"] if c["id"] == "RL-01")
    assert (rl01["result"], rl01["actor"]) == ("waived", "U0BOB")
    assert rec["approvals"] == [{"check": "RL-01", "by": "U0BOB", "at": rl01["time"],
                                 "result": "waived"}]
    f = tmp_path / "evidence.yaml"
    f.write_text(r.stdout)
    r = relbot(*base, "release", "verify-evidence", str(f))
    assert r.returncode == 0 and r.stdout.startswith("ok:"), r.stdout + r.stderr
    rl01["actor"] = "U0MALLORY"
    f.write_text(yaml.safe_dump(rec))
    r = relbot(*base, "release", "verify-evidence", str(f))
    assert r.returncode == 1 and "check RL-01" in r.stdout
