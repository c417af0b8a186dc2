"""Dry-run: compare source and target trees by object id, never touching the target (DR-04)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import Path

from pydantic import BaseModel

from bot.errors import CommandFailed, RelbotError
from bot.git import git, is_git_repo
from bot.sync.config import SyncDef
from bot.sync.gitobj import HUGE_BYTES, numstat, sizes, store_files
from bot.sync.keydiff import key_changes


class Change(BaseModel):
    """One file change in a plan."""

    status: str                     # A | M | D | R
    path: str
    old_path: str | None = None
    added: int = 0
    removed: int = 0
    binary: bool = False
    large: bool = False             # over gitobj.HUGE_BYTES: flagged, never diffed
    keys: list[str] = []
    oid: str | None = None          # the source blob (None for D)
    mode: str | None = None         # the source blob's mode (None for D)


class TargetPlan(BaseModel):
    """The plan for one target."""

    repo: str
    branch: str | None
    path: str
    sha: str | None
    changes: list[Change]


class Plan(BaseModel):
    """A complete dry-run."""

    sync: str
    type: str
    source_repo: str
    source_ref: str | None
    source_sha: str
    targets: list[TargetPlan]
    digest: str = ""
    id: str = ""
    created: str = ""

    def canonical(self) -> str:
        """Canonical JSON of everything but id/digest/created."""
        return json.dumps(self.model_dump(exclude={"digest", "id", "created"}), sort_keys=True,
                          separators=(",", ":"))

    def counts(self) -> dict[str, int]:
        """Changes by status over all targets."""
        out = {"A": 0, "M": 0, "D": 0, "R": 0}
        for t in self.targets:
            for c in t.changes:
                out[c.status] += 1
        return out

    @property
    def changed(self) -> bool:
        """Some target has something to change."""
        return any(t.changes for t in self.targets)


def resolve_repo(repo: str, base_dir: Path) -> str:
    """A URL stays as it is; a path is resolved against the config file's directory."""
    if "://" in repo or (":" in repo and "@" in repo.split(":", 1)[0]):
        return repo
    return str((base_dir / repo).resolve())


def _matches(rel: str, sd: SyncDef) -> bool:
    def matches(pat: str) -> bool:
        if fnmatchcase(rel, pat):
            return True
        if pat.startswith("**/") and fnmatchcase(rel, pat[3:]):
            return True
        return pat.endswith("/**") and (rel + "/").startswith(pat[:-2])
    f = sd.filters
    if f.include and not any(matches(p) for p in f.include):
        return False
    return not any(matches(p) for p in f.exclude)


def _prefix(path: str) -> str:
    p = path.strip("/")
    return p + "/" if p else ""


def _cache(cache_dir: Path) -> Path:
    if not (cache_dir / "HEAD").exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        git("init", "-q", "--bare", str(cache_dir))
    return cache_dir


def _default_branch(url: str) -> str:
    out = git("ls-remote", "--symref", url, "HEAD")
    for line in out.splitlines():
        if line.startswith("ref: ") and line.endswith("\tHEAD"):
            return line[5:].split("\t")[0].removeprefix("refs/heads/")
    raise RelbotError(f"repo {url!r}: no default branch (HEAD); set ref/branch")


def _fetch(cache: Path, url: str, ref: str | None, local: str) -> tuple[str, str | None]:
    """Fetch ``ref`` of ``url`` into ``refs/relbot/<local>``; (ref, sha or None if missing)."""
    ref = ref or _default_branch(url)
    try:
        git("fetch", "-q", "--no-tags", "--force", url, f"+{ref}:refs/relbot/{local}",
            cwd=cache)
    except CommandFailed:
        if len(ref) >= 7 and all(c in "0123456789abcdef" for c in ref.lower()):
            try:
                git("fetch", "-q", "--no-tags", url, ref, cwd=cache)
            except CommandFailed:
                return ref, None
            return ref, git("rev-parse", "FETCH_HEAD^{commit}", cwd=cache).strip()
        return ref, None
    return ref, git("rev-parse", f"refs/relbot/{local}^{{commit}}", cwd=cache).strip()


def _tree(cache: Path, sha: str | None, path: str) -> dict[str, tuple[str, str]]:
    """relative path -> (mode, oid) of the blobs under ``path`` at ``sha``."""
    if sha is None:
        return {}
    pre = _prefix(path)
    args = ["ls-tree", "-r", "-z", sha]
    if pre:
        args += ["--", pre]
    out: dict[str, tuple[str, str]] = {}
    for rec in git(*args, cwd=cache).split("\0"):
        if not rec:
            continue
        meta, name = rec.split("\t", 1)
        mode, kind, oid = meta.split()
        if kind == "blob":
            out[name[len(pre):]] = (mode, oid)
    return out


Stats = dict[str, tuple[int, int, bool]]


def _tree_diff(cache: Path, src_sha: str, src_path: str, dst_sha: str, dst_path: str
               ) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]], Stats | None]:
    """Only the differing blobs of two subtrees and their line counts, from one ``git
    diff-tree --raw --numstat`` (unchanged files are never read; binary and large files are
    not diffed). The counts are None when one side has no such subtree."""
    a = f"{dst_sha}:{dst_path.strip('/')}"
    b = f"{src_sha}:{src_path.strip('/')}"
    have = git("cat-file", "-t", a, cwd=cache, check=False).strip() == "tree"
    if git("cat-file", "-t", b, cwd=cache, check=False).strip() != "tree":
        return {}, _tree(cache, dst_sha, dst_path) if have else {}, None
    if not have:
        return _tree(cache, src_sha, src_path), {}, None
    src: dict[str, tuple[str, str]] = {}
    dst: dict[str, tuple[str, str]] = {}
    stats: Stats = {}
    parts = iter(git("-c", f"core.bigFileThreshold={HUGE_BYTES}", "diff-tree", "-r", "-z",
                     "--no-renames", "--raw", "--numstat", a, b, cwd=cache).split("\0"))
    for rec in parts:
        if rec.startswith(":"):
            name = next(parts, "")
            m1, m2, o1, o2, _st = rec[1:].split()
            if not m1.startswith("16") and o1.strip("0"):
                dst[name] = (m1, o1)
            if not m2.startswith("16") and o2.strip("0"):
                src[name] = (m2, o2)
        elif rec.count("\t") >= 2:
            plus, minus, name = rec.split("\t", 2)
            binary = plus == "-"
            stats[name] = (0 if binary else int(plus), 0 if binary else int(minus), binary)
    return src, dst, stats


def dir_digest(tree: dict[str, tuple[str, str]]) -> str:
    """A content ID for a plain directory (stands in for a commit SHA)."""
    return hashlib.sha256(json.dumps(sorted(tree.items())).encode()).hexdigest()[:40]


def blob_oid(data: bytes) -> str:
    """The git blob id of ``data`` (plain directories hash the same way)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _dir_tree(root: Path, path: str) -> tuple[dict[str, tuple[str, str]], dict[str, Path]]:
    """A plain directory as (relative path -> (mode, oid), oid -> one file holding it)."""
    base = root / path.strip("/") if path.strip("/") else root
    tree: dict[str, tuple[str, str]] = {}
    files: dict[str, Path] = {}
    if not base.is_dir():
        return tree, files
    for dirpath, dirnames, names in os.walk(base):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for f in names:
            p = Path(dirpath) / f
            oid = blob_oid(p.read_bytes())
            tree[p.relative_to(base).as_posix()] = (
                "100755" if os.access(p, os.X_OK) else "100644", oid)
            files[oid] = p
    return tree, files


def _read_blobs(cache: Path | None, oids: set[str], known: dict[str, bytes]) -> dict[str, bytes]:
    """Read the blobs in ``oids`` with one ``git cat-file --batch``."""
    want = sorted(o for o in oids if o not in known)
    out = dict(known)
    if not want or cache is None:
        return out
    proc = subprocess.run(["git", "cat-file", "--batch"], cwd=cache, capture_output=True,
                          input=("\n".join(want) + "\n").encode(), check=True)
    buf, pos = proc.stdout, 0
    for oid in want:
        nl = buf.index(b"\n", pos)
        header = buf[pos:nl].split()
        if header[-1] == b"missing":
            pos = nl + 1
            continue
        size = int(header[2])
        out[oid] = buf[nl + 1:nl + 1 + size]
        pos = nl + 1 + size + 1
    return out


def _diff(sd: SyncDef, src: dict[str, tuple[str, str]], dst: dict[str, tuple[str, str]]
          ) -> list[Change]:
    """The changes from ``dst`` to ``src`` (a deleted path whose blob reappears is a rename)."""
    out: list[Change] = []
    deleted = {p: v for p, v in dst.items() if p not in src} if sd.options.delete else {}
    by_oid: dict[str, list[str]] = {}
    for p, (_m, oid) in sorted(deleted.items()):
        by_oid.setdefault(oid, []).append(p)
    for p in sorted(src):
        mode, oid = src[p]
        if p not in dst:
            olds = by_oid.get(oid)
            if olds:
                old = olds.pop(0)
                del deleted[old]
                out.append(Change(status="R", path=p, old_path=old, oid=oid, mode=mode))
            else:
                out.append(Change(status="A", path=p, oid=oid, mode=mode))
        elif dst[p] != (mode, oid):
            out.append(Change(status="M", path=p, oid=oid, mode=mode))
    out += [Change(status="D", path=p) for p in sorted(deleted)]
    out.sort(key=lambda c: c.path)
    return out


def _count(sd: SyncDef, cache: Path, changes: list[Change], src: dict[str, tuple[str, str]],
           dst: dict[str, tuple[str, str]], stats: Stats | None = None) -> list[Change]:
    """Fill in line counts (``stats`` from the tree diff, else ``git diff-tree --numstat``
    between trees built of the changed blobs; binary and large files flagged, never diffed)
    and, for config syncs, the changed keys."""
    counted = [c for c in changes if c.status != "R"]
    old = {c.path: dst[c.path] for c in counted if c.path in dst}
    new = {c.path: src[c.path] for c in counted if c.status != "D"}
    if stats is None:
        stats = numstat(cache, old, new)
    flagged = {c.path for c in counted if stats.get(c.path, (0, 0, False))[2]}
    size = sizes(cache, {e[1] for side in (old, new) for p, e in side.items() if p in flagged})
    huge = {o for o, n in size.items() if n > HUGE_BYTES}
    blobs: dict[str, bytes] = {}
    if sd.type == "config":
        blobs = _read_blobs(cache, {e[1] for e in (*old.values(), *new.values())} - huge, {})
    out = []
    for c in changes:
        if c.status == "R":
            out.append(c)
            continue
        plus, minus, binary = stats.get(c.path, (0, 0, False))
        o, n = old.get(c.path, ("", ""))[1], new.get(c.path, ("", ""))[1]
        large = o in huge or n in huge
        keys = (key_changes(c.path, blobs.get(o), blobs.get(n))
                if sd.type == "config" and not binary and not large else [])
        out.append(c.model_copy(update={"added": plus, "removed": minus, "keys": keys,
                                        "binary": binary and not large, "large": large}))
    return out


def _source(sd: SyncDef, src_url: str, ref: str | None, cache: Path, files: dict[str, Path]
            ) -> tuple[str | None, str, dict[str, tuple[str, str]] | None]:
    """(ref, sha, full tree for a plain directory else None)."""
    if is_git_repo(src_url) or "://" in src_url:
        ref, sha = _fetch(cache, src_url, ref, "source")
        if sha is None:
            raise RelbotError(f"syncs.{sd.name}.source.ref: {ref!r} not found in {src_url}")
        return ref, sha, None
    if not Path(src_url).is_dir():
        raise RelbotError(f"syncs.{sd.name}.source.repo: {src_url!r} does not exist")
    full, more = _dir_tree(Path(src_url), sd.source.path)
    files.update(more)
    return ref, dir_digest(full), full


def build_plan(sd: SyncDef, base_dir: Path, cache_dir: Path, source_ref: str | None = None,
               now: datetime | None = None) -> Plan:
    """Dry-run ``sd``: fetch source/target into the private cache and diff the trees."""
    src_url = resolve_repo(sd.source.repo, base_dir)
    cache = _cache(cache_dir)
    files: dict[str, Path] = {}  # blobs of plain directories, stored into the cache below
    ref, sha, full = _source(sd, src_url, source_ref or sd.source.ref, cache, files)
    targets: list[TargetPlan] = []
    for i, t in enumerate(sd.all_targets()):
        url = resolve_repo(t.repo, base_dir)
        stats: Stats | None = None
        if is_git_repo(url) or "://" in url:
            branch, tsha = _fetch(cache, url, t.branch, f"target-{i}")
            if full is None and tsha is not None:
                src, dst, stats = _tree_diff(cache, sha, sd.source.path, tsha, t.path)
            else:
                dst = _tree(cache, tsha, t.path)
                src = full if full is not None else _tree(cache, sha, sd.source.path)
        else:
            dst, more = _dir_tree(Path(url), t.path)
            files.update(more)
            branch, tsha = None, dir_digest(dst)
            src = full if full is not None else _tree(cache, sha, sd.source.path)
        src = {p: v for p, v in src.items() if _matches(p, sd)}
        dst = {p: v for p, v in dst.items() if _matches(p, sd)}
        changes = _diff(sd, src, dst)
        store_files(cache, _changed_files(changes, src, dst, files))
        targets.append(TargetPlan(repo=url, branch=branch, path=t.path, sha=tsha,
                                  changes=_count(sd, cache, changes, src, dst, stats)))
    plan = Plan(sync=sd.name, type=sd.type, source_repo=src_url, source_ref=ref, source_sha=sha,
                targets=targets)
    digest = hashlib.sha256(plan.canonical().encode()).hexdigest()
    when = now or datetime.now()
    stamp = hashlib.sha256(f"{digest}{when.isoformat()}".encode()).hexdigest()[:6]
    return plan.model_copy(update={"digest": digest, "created": when.isoformat(),
                                   "id": f"DR-{when:%Y%m%d}-{stamp}"})


def _changed_files(changes: list[Change], src: dict[str, tuple[str, str]],
                   dst: dict[str, tuple[str, str]], files: dict[str, Path]) -> set[Path]:
    """The plain-directory files holding the blobs the changes name (old and new sides)."""
    oids = set()
    for c in changes:
        for side, key in ((src, c.path), (dst, c.path), (dst, c.old_path)):
            if key is not None and key in side:
                oids.add(side[key][1])
    return {files[o] for o in oids if o in files}
