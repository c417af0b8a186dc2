"""Git object plumbing for syncs: trees built in a temporary index, line counts from git.

Everything here works on the dry-run's bare cache repository and never checks anything out,
so its cost follows the number of changed paths, not the size of the repository.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bot.git import git

ZERO = "0" * 40
# Files above this size are flagged "large" and never diffed (git treats them as binary).
HUGE_BYTES = 4 * 1024 * 1024

Entry = tuple[str, str]  # (mode, blob oid)


@contextmanager
def temp_index(cache: Path) -> Iterator[dict[str, str]]:
    """The environment for git commands working on a fresh, private index file in ``cache``."""
    fd, name = tempfile.mkstemp(prefix="relbot-index-", dir=cache)
    os.close(fd)
    os.unlink(name)  # git creates it; an empty file is not a valid index
    try:
        yield {"GIT_INDEX_FILE": name}
    finally:
        for leftover in (name, name + ".lock"):
            if os.path.exists(leftover):
                os.unlink(leftover)


def index_info(updates: Mapping[str, Entry | None], prefix: str = "") -> str:
    """``git update-index -z --index-info`` input: set each path, or remove it (None)."""
    return "".join(f"{e[0]} {e[1]}\t{prefix}{p}\0" if e is not None
                   else f"0 {ZERO}\t{prefix}{p}\0" for p, e in updates.items())


def write_tree(cache: Path, updates: Mapping[str, Entry | None], base: str | None = None,
               prefix: str = "") -> str:
    """The tree ``base`` (a tree-ish, or empty) with ``updates`` applied under ``prefix``."""
    with temp_index(cache) as env:
        if base is None:
            git("read-tree", "--empty", cwd=cache, env=env)
        else:
            git("read-tree", base, cwd=cache, env=env)
        if updates:
            git("update-index", "-z", "--index-info", cwd=cache, env=env,
                input=index_info(updates, prefix))
        return git("write-tree", cwd=cache, env=env).strip()


def numstat(cache: Path, old: Mapping[str, Entry], new: Mapping[str, Entry]
            ) -> dict[str, tuple[int, int, bool]]:
    """path -> (added, removed, binary) between two sets of blobs, counted by
    ``git diff-tree --numstat`` (binary and files over :data:`HUGE_BYTES` are not diffed)."""
    if not old and not new:
        return {}
    a, b = write_tree(cache, dict(old)), write_tree(cache, dict(new))
    out = git("-c", f"core.bigFileThreshold={HUGE_BYTES}", "diff-tree", "-r", "-z",
              "--numstat", "--no-renames", a, b, cwd=cache)
    counts: dict[str, tuple[int, int, bool]] = {}
    for rec in out.split("\0"):
        if "\t" not in rec:
            continue
        plus, minus, path = rec.split("\t", 2)
        binary = plus == "-"
        counts[path] = (0 if binary else int(plus), 0 if binary else int(minus), binary)
    return counts


def sizes(cache: Path, oids: Iterable[str]) -> dict[str, int]:
    """Blob sizes (one ``git cat-file --batch-check``)."""
    want = sorted(set(oids))
    if not want:
        return {}
    out = git("cat-file", "--batch-check=%(objectname) %(objectsize)", cwd=cache,
              input="\n".join(want) + "\n")
    res: dict[str, int] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            res[parts[0]] = int(parts[1])
    return res


def store_files(cache: Path, files: Iterable[Path]) -> None:
    """Write plain files into the cache's object store (``git hash-object -w``)."""
    paths = [str(f) for f in files]
    if paths:
        git("hash-object", "-w", "--no-filters", "--stdin-paths", cwd=cache,
            input="\n".join(paths) + "\n")
