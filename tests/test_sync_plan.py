"""Sync dry-run core: real git repos with bare remotes, every sync type, DR-04."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from bot.sync.config import SyncDef
from bot.sync.plan import build_plan
from tests.cli import relbot
from tests.repos import built


def sh(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def make_remote(tmp: Path, name: str, files: dict[str, bytes | str]) -> Path:
    """A bare repo ``name.git`` holding one commit with ``files`` on main (cloned from the
    work tree ``name-work``, which is kept); see :func:`tests.repos.built`."""
    def build(where: Path) -> None:
        work = where / f"{name}-work"
        work.mkdir()
        sh("init", "-q", "-b", "main", cwd=work)
        write(work, files)
        sh("clone", "-q", "--bare", str(work), str(where / f"{name}.git"), cwd=where)

    built(("make_remote", name, tuple(files.items())), tmp, build)
    return tmp / f"{name}.git"


def write(work: Path, files: dict[str, bytes | str | None]) -> None:
    for p, data in files.items():
        f = work / p
        if data is None:
            f.unlink()
            continue
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data if isinstance(data, bytes) else data.encode())
    sh("add", "-A", cwd=work)
    sh("commit", "-q", "-m", "change", "--allow-empty", cwd=work)


def tree_hash(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        if f.is_file():
            h.update(f.relative_to(path).as_posix().encode() + f.read_bytes())
    return h.hexdigest()


def sd(**kw: object) -> SyncDef:
    return SyncDef.model_validate({"name": "s", "type": "cross-repo", **kw})


def test_cross_repo_filters_delete_rename_binary_and_target_untouched(tmp_path: Path) -> None:
    src = make_remote(tmp_path, "product", {
        "docs/a.md": "one\ntwo\n", "docs/new.md": "x\n", "docs/img.png": b"\x89PNG\0\1",
        "docs/drafts/wip.md": "wip\n", "docs/moved.md": "same content\n", "src/x.py": "1\n"})
    dst = make_remote(tmp_path, "website", {
        "content/docs/a.md": "one\n", "content/docs/gone.md": "bye\n",
        "content/docs/old.md": "same content\n", "content/docs/img.png": b"\x89PNG\0\0"})
    before = tree_hash(dst)
    d = sd(source={"repo": str(src), "ref": "main", "path": "docs/"},
           target={"repo": str(dst), "branch": "main", "path": "content/docs/"},
           filters={"include": ["**/*.md", "**/*.png"], "exclude": ["drafts/**"]},
           options={"delete": True})
    plan = build_plan(d, tmp_path, tmp_path / "cache")
    got = {c.path: c for c in plan.targets[0].changes}
    assert set(got) == {"a.md", "new.md", "img.png", "moved.md", "gone.md"}
    assert (got["a.md"].status, got["a.md"].added, got["a.md"].removed) == ("M", 1, 0)
    assert got["new.md"].status == "A" and got["new.md"].added == 1
    assert got["img.png"].binary
    assert got["moved.md"].status == "R" and got["moved.md"].old_path == "old.md"
    assert got["gone.md"].status == "D" and got["gone.md"].removed == 1
    assert plan.counts() == {"A": 1, "M": 2, "D": 1, "R": 1}
    assert plan.source_sha == sh("rev-parse", "main", cwd=src).strip()
    assert plan.targets[0].sha == sh("rev-parse", "main", cwd=dst).strip()
    assert len(plan.digest) == 64 and plan.id.startswith("DR-")
    assert tree_hash(dst) == before  # DR-04


def test_no_delete_keeps_extra_target_files(tmp_path: Path) -> None:
    src = make_remote(tmp_path, "a", {"f.txt": "1\n"})
    dst = make_remote(tmp_path, "b", {"f.txt": "1\n", "extra.txt": "e\n"})
    plan = build_plan(sd(source={"repo": str(src)}, target={"repo": str(dst)}), tmp_path,
                      tmp_path / "c")
    assert not plan.changed


def test_config_key_level_diff(tmp_path: Path) -> None:
    src = make_remote(tmp_path, "a", {"app.yml": "db:\n  pool: 20\n  host: x\n",
                                      "s.toml": "[x]\nport = 2\n", "j.json": '{"a": 1}'})
    dst = make_remote(tmp_path, "b", {"app.yml": "db:\n  pool: 10\n  old: 1\n",
                                      "s.toml": "[x]\nport = 1\n", "j.json": '{"a": 1, "b": 2}'})
    d = SyncDef.model_validate({"name": "c", "type": "config", "source": {"repo": str(src)},
                                "target": {"repo": str(dst)}})
    got = {c.path: c.keys for c in build_plan(d, tmp_path, tmp_path / "c").targets[0].changes}
    assert "db.pool: 10 -> 20" in got["app.yml"]
    assert '+ db.host: "x"' in got["app.yml"] and "- db.old (was 1)" in got["app.yml"]
    assert got["s.toml"] == ["x.port: 1 -> 2"]
    assert got["j.json"] == ["- b (was 2)"] or "j.json" not in got


def test_downstream_many_targets_and_upstream(tmp_path: Path) -> None:
    src = make_remote(tmp_path, "ours", {"lib.py": "v2\n"})
    t1 = make_remote(tmp_path, "d1", {"lib.py": "v1\n"})
    t2 = make_remote(tmp_path, "d2", {"lib.py": "v2\n"})
    d = SyncDef.model_validate({"name": "down", "type": "downstream", "source": {"repo": str(src)},
                                "targets": [{"repo": str(t1)}, {"repo": str(t2)}]})
    plan = build_plan(d, tmp_path, tmp_path / "c")
    assert [len(t.changes) for t in plan.targets] == [1, 0]
    up = SyncDef.model_validate({"name": "up", "type": "upstream", "source": {"repo": str(t1)},
                                 "target": {"repo": str(src)}})
    assert build_plan(up, tmp_path, tmp_path / "c2").targets[0].changes[0].status == "M"


def test_plain_directories(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "t").mkdir()
    (tmp_path / "s" / "a.txt").write_text("new\n")
    (tmp_path / "t" / "a.txt").write_text("old\n")
    plan = build_plan(sd(source={"repo": "s"}, target={"repo": "t"}), tmp_path, tmp_path / "c")
    [c] = plan.targets[0].changes
    assert (c.status, c.added, c.removed) == ("M", 1, 1)


def test_cli_exit_codes(tmp_path: Path) -> None:
    src = make_remote(tmp_path, "a", {"f.txt": "1\n"})
    dst = make_remote(tmp_path, "b", {"f.txt": "2\n"})
    same = make_remote(tmp_path, "c", {"f.txt": "1\n"})
    cfg = tmp_path / "relbot.yml"
    cfg.write_text(f"channel: C0REL\nsyncs:\n"
                   f"  - {{name: x, type: cross-repo, source: {{repo: {src}}}, "
                   f"target: {{repo: {dst}}}}}\n"
                   f"  - {{name: y, type: cross-repo, source: {{repo: {src}}}, "
                   f"target: {{repo: {same}}}}}\n")

    def run(*a: str) -> subprocess.CompletedProcess:
        return relbot("sync", *a, "--config", str(cfg))
    r = run("plan", "x")
    assert r.returncode == 1, r.stderr
    assert "M f.txt (+1 -1)" in r.stdout
    assert run("plan", "y").returncode == 0
    assert run("plan", "nope").returncode == 2
