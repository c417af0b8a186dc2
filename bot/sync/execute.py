"""Execute exactly an approved plan: one commit per target, pushed; failures leave it as it was."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bot.errors import Refused, RelbotError
from bot.git import git, is_git_repo
from bot.sync.plan import (
    Plan,
    TargetPlan,
    _dir_tree,
    _read_blobs,
    _tree,
    blob_oid,
    dir_digest,
)


def _remote_sha(url: str, ref: str | None) -> str | None:
    if ref is None:
        return None
    out = git("ls-remote", url, f"refs/heads/{ref}", f"refs/tags/{ref}",
              f"refs/tags/{ref}^{{}}", ref, check=False)
    lines = [x.split("\t") for x in out.splitlines() if "\t" in x]
    # An annotated tag lists the tag object, then its commit as ``^{}``: compare commits.
    peeled = [sha for sha, name in lines if name.endswith("^{}")]
    if peeled:
        return peeled[0]
    return lines[0][0] if lines else None


def stale_reason(plan: Plan, source_path: str | None = "") -> str | None:
    """Why the plan no longer matches source or target (None when both are where they were)."""
    if is_git_repo(plan.source_repo) or "://" in plan.source_repo:
        now = _remote_sha(plan.source_repo, plan.source_ref)
        if now is not None and len(plan.source_ref or "") != 40 and now != plan.source_sha:
            return f"stale plan: source moved {plan.source_sha[:7]} -> {now[:7]}"
    elif source_path is not None:
        now = dir_digest(_dir_tree(Path(plan.source_repo), source_path)[0])
        if now != plan.source_sha:
            return f"stale plan: source moved {plan.source_sha[:7]} -> {now[:7]}"
    for t in plan.targets:
        if t.branch is None:
            now = dir_digest(_dir_tree(Path(t.repo), t.path)[0])
            if now != t.sha:
                return f"stale plan: target moved {(t.sha or 'none')[:7]} -> {now[:7]}"
        else:
            now = _remote_sha(t.repo, t.branch)
            if now != t.sha:
                return (f"stale plan: target moved {(t.sha or 'none')[:7]} -> "
                        f"{(now or 'none')[:7]}")
    return None


def _write(root: Path, t: TargetPlan, blobs: dict[str, bytes]) -> None:
    base = root / t.path.strip("/") if t.path.strip("/") else root
    for c in t.changes:
        if c.status in ("D", "R"):
            old = base / (c.old_path if c.status == "R" else c.path)
            if old.exists():
                old.unlink()
        if c.status != "D":
            f = base / c.path
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(blobs[c.oid or ""])


def apply_target(plan: Plan, t: TargetPlan, cache: Path, message: str) -> str:
    """Apply ``t``'s changes; returns the new target SHA (or a content hash for a directory)."""
    oids = {c.oid for c in t.changes if c.oid}
    blobs = _read_blobs(cache if cache.exists() else None, oids, {})
    if plan.source_repo and not is_git_repo(plan.source_repo):
        src = Path(plan.source_repo)
        for f in src.rglob("*"):
            if f.is_file() and blob_oid(f.read_bytes()) in oids:
                blobs[blob_oid(f.read_bytes())] = f.read_bytes()
    missing = oids - set(blobs)
    if missing:
        raise RelbotError(f"sync {plan.sync}: source objects missing from cache: {len(missing)}")
    if t.branch is None:
        return _apply_dir(Path(t.repo), t, blobs)
    with tempfile.TemporaryDirectory(prefix="relbot-sync-") as tmp:
        work = Path(tmp) / "w"
        if t.sha:
            git("clone", "-q", "--branch", t.branch, "--single-branch", t.repo, str(work))
            if git("rev-parse", "HEAD", cwd=work).strip() != t.sha:
                raise Refused(f"stale plan: target moved {t.sha[:7]} while executing")
        else:
            work.mkdir()
            git("init", "-q", "-b", t.branch, cwd=work)
        _write(work, t, blobs)
        git("add", "-A", cwd=work)
        git("-c", "user.name=relbot", "-c", "user.email=relbot@localhost", "commit", "-q",
            "--allow-empty", "-m", message, cwd=work)
        git("push", "-q", t.repo, f"HEAD:refs/heads/{t.branch}", cwd=work)
        new = git("rev-parse", "HEAD", cwd=work).strip()
        verify(work, new, t)
        return new


def verify(repo: Path, sha: str, t: TargetPlan) -> None:
    """The committed tree holds exactly the planned blobs at the planned paths."""
    tree = _tree(repo, sha, t.path)
    for c in t.changes:
        if c.status == "D" and c.path in tree:
            raise RelbotError(f"verify: {c.path} still present after sync")
        if c.status != "D" and tree.get(c.path, ("", ""))[1] != c.oid:
            raise RelbotError(f"verify: {c.path} does not match the plan")


def _apply_dir(root: Path, t: TargetPlan, blobs: dict[str, bytes]) -> str:
    staging = root.with_name(root.name + ".relbot-staging")
    old = root.with_name(root.name + ".relbot-old")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(root, staging, symlinks=True)
    try:
        _write(staging, t, blobs)
        root.rename(old)
        staging.rename(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    return "dir"
