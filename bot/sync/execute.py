"""Execute exactly an approved plan: one commit per target, built without a checkout, pushed."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.errors import NotVerified, RelbotError
from bot.git import git, is_git_repo
from bot.sync.gitobj import sizes, write_tree
from bot.sync.plan import Plan, TargetPlan, _dir_tree, _prefix, _read_blobs, _tree, dir_digest


def remote_sha(url: str, ref: str | None) -> str | None:
    """The commit ``ref`` (branch or tag) of ``url`` points at (None when missing)."""
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
        now = remote_sha(plan.source_repo, plan.source_ref)
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
            now = remote_sha(t.repo, t.branch)
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


def _updates(cache: Path, t: TargetPlan) -> dict[str, tuple[str, str] | None]:
    """path -> (mode, oid) to set or None to remove, relative to the target's path."""
    have = _tree(cache, t.sha, t.path) if any(c.mode is None for c in t.changes) else {}
    out: dict[str, tuple[str, str] | None] = {}
    for c in t.changes:
        if c.status == "R" and c.old_path:
            out[c.old_path] = None
        if c.status == "D":
            out[c.path] = None
        else:
            out[c.path] = (c.mode or have.get(c.path, ("100644", ""))[0], c.oid or "")
    return out


def _have_target(cache: Path, t: TargetPlan) -> None:
    """The target's planned commit is in the cache (it is unless the cache was cleared)."""
    if t.sha and git("cat-file", "-t", t.sha, cwd=cache, check=False).strip() != "commit":
        git("fetch", "-q", "--no-tags", t.repo, f"+refs/heads/{t.branch}:refs/relbot/exec",
            cwd=cache)


def _refetch_source(plan: Plan, cache: Path) -> bool:
    """Fetch the planned source commit into this process's cache: another replica made the
    dry-run (its cache has the objects, this one's may not). False for a plain directory
    (its blobs exist only in the planning replica's cache) or when the commit is gone."""
    src = Path(plan.source_repo)
    if src.is_dir() and not is_git_repo(src):
        return False
    if not cache.exists():
        cache.mkdir(parents=True, exist_ok=True)
        git("init", "-q", "--bare", str(cache))
    for want in (plan.source_sha, plan.source_ref):
        if want:
            git("fetch", "-q", "--no-tags", plan.source_repo, want, cwd=cache, check=False)
        if git("cat-file", "-t", plan.source_sha, cwd=cache, check=False).strip() == "commit":
            return True
    return False


def apply_target(plan: Plan, t: TargetPlan, cache: Path, message: str) -> str:
    """Commit ``t``'s changes on top of the planned target commit without a checkout (a
    temporary index in the dry-run's cache: read-tree, update the changed paths, write-tree,
    commit-tree) and push it; returns the new SHA ("dir" for a plain directory)."""
    oids = {c.oid for c in t.changes if c.oid}
    missing = oids - set(sizes(cache, oids)) if cache.exists() else oids
    if missing and _refetch_source(plan, cache):
        missing = oids - set(sizes(cache, oids))
    if missing:
        raise RelbotError(f"sync {plan.sync}: source objects missing from cache: {len(missing)}")
    if t.branch is None:
        return _apply_dir(Path(t.repo), t, _read_blobs(cache, oids, {}))
    _have_target(cache, t)
    tree = write_tree(cache, _updates(cache, t), base=t.sha, prefix=_prefix(t.path))
    parents = ["-p", t.sha] if t.sha else []
    new = git("-c", "user.name=relbot", "-c", "user.email=relbot@localhost", "commit-tree",
              tree, *parents, cwd=cache, input=message + "\n").strip()
    git("push", "-q", t.repo, f"{new}:refs/heads/{t.branch}", cwd=cache)
    try:
        verify(cache, new, t)
    except RelbotError as exc:
        raise NotVerified(new, str(exc)) from None
    now = remote_sha(t.repo, t.branch)
    if now != new:
        raise NotVerified(new, f"{t.repo} {t.branch} is at {(now or 'nothing')[:12]} after "
                               "the push")
    return new


def verify(repo: Path, sha: str, t: TargetPlan) -> None:
    """The commit ``sha`` changes exactly the planned paths to exactly the planned blobs (a
    diff against the planned target commit, so its cost follows the changes), or for a new
    branch holds them."""
    pre = _prefix(t.path)
    want: dict[str, str | None] = {}
    for c in t.changes:
        if c.status == "R" and c.old_path:
            want[c.old_path] = None
        want[c.path] = None if c.status == "D" else c.oid
    if t.sha is None:
        tree = _tree(repo, sha, t.path)
        got: dict[str, str | None] = {p: tree[p][1] if p in tree else None for p in want}
    else:
        parts = git("diff-tree", "-r", "-z", "--no-renames", t.sha, sha, cwd=repo).split("\0")
        got = {}
        for meta, name in zip(parts[0::2], parts[1::2], strict=False):
            if meta.startswith(":"):
                new_oid = meta[1:].split()[3]
                got[name.removeprefix(pre)] = None if not new_oid.strip("0") else new_oid
        extra = sorted(set(got) - set(want))
        if extra:
            raise RelbotError(f"verify: {extra[0]} changed but is not in the plan")
    for path, oid in want.items():
        if got.get(path, "unchanged") != oid:
            what = "still present" if oid is None else "does not match the plan"
            raise RelbotError(f"verify: {path} {what} after sync")


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
