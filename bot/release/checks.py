"""Checks RL-01..RL-08: names, which step each gates, and the automatic decisions.

Every automatic decision is made on one commit (the release's candidate), never on a working
tree: files are read with ``git show COMMIT:path`` and configured commands run in a clean,
detached worktree of that commit that is removed afterwards.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.actions.machine import RELEASE_STEPS
from bot.clock import Clock, SystemClock
from bot.errors import CommandFailed
from bot.git import git
from bot.integrations import codehost
from bot.integrations.http import Timing
from bot.release.config import Product

STEPS = RELEASE_STEPS
"""The steps of a release, in order (the statuses of an active release's action)."""
NAMES = {
    "RL-01": "All PRs merged",
    "RL-02": "Gates pass (G-REL)",
    "RL-03": "Changelog updated",
    "RL-04": "Version bumped",
    "RL-05": "Documentation updated",
    "RL-06": "Security reviewed",
    "RL-07": "Rollback tested",
    "RL-08": "Release notes drafted",
}
# Leaving step X needs these checks (RL-07 only for a major release).
GATES = {
    "Feature Freeze": ("RL-01",),
    "RC": ("RL-03", "RL-04", "RL-08"),
    "Validation": ("RL-02", "RL-05", "RL-06", "RL-07"),
    "Execution": (),
    "Post-Release": (),
}
BUILTIN = ("RL-03", "RL-04", "RL-08")
DONE = ("pass", "waived", "n/a")
WAITING = "waiting"
"""A code host's check that is not decided yet (checks still running, a rate limit): not
done; re-run by ``/release check`` and on a schedule until decided."""


@dataclass(frozen=True)
class Candidate:
    """What an automatic check decides about: a version of a product at one commit."""

    version: str
    commit: str
    notes_digest: str = ""
    notes_commit: str = ""


@dataclass(frozen=True)
class Outcome:
    """An automatic decision: ``pass``/``fail``/``pending``/``waiting``, why, the commit it
    ran on; a code host adds structured ``details`` (pull requests with merge SHAs, checks
    with conclusions and URLs) and, while waiting, when to ask again."""

    result: str
    evidence: str
    commit: str
    details: dict[str, Any] = field(default_factory=dict)
    recheck_at: datetime | None = None


def initial(bump: str) -> dict[str, str]:
    """Initial results: everything pending, RL-07 not applicable unless major."""
    return {cid: ("n/a" if cid == "RL-07" and bump != "major" else "pending") for cid in NAMES}


def gating(step: str) -> tuple[str, ...]:
    """The checks that must hold before leaving ``step``. Leaving Execution ships the
    candidate commit, so then every gating check must hold (on that commit)."""
    return all_gating() if step == "Execution" else GATES.get(step, ())


def all_gating() -> tuple[str, ...]:
    """Every check that gates some step (all must hold on the commit that is tagged)."""
    return tuple(c for s in STEPS for c in GATES[s])


def mode(product: Product, cid: str) -> str:
    """``command`` (configured argv), ``builtin`` (bot decides), ``provider`` (the product's
    GitHub/GitLab decides RL-01/RL-02) or ``manual`` (buttons)."""
    if cid in product.checks:
        return "command"
    if cid in BUILTIN:
        return "builtin"
    return "provider" if codehost.decides(product, cid) else "manual"


def automatic(product: Product, cid: str) -> bool:
    """True when the bot decides ``cid`` (on a commit); False when a person does."""
    return mode(product, cid) != "manual"


def show(repo: str | Path, commit: str, path: str) -> str | None:
    """The file ``path`` as committed in ``commit`` (None when it is not in that commit)."""
    try:
        return git("show", f"{commit}:{path}", cwd=repo)
    except CommandFailed:
        return None


def changelog_has(text: str | None, name: str, version: str) -> tuple[bool, str]:
    """RL-03: a heading or link line naming the version in the committed changelog."""
    if text is None:
        return False, f"{name} not found"
    pat = re.compile(rf"(^|[\s\[v]){re.escape(version)}($|[\s\]])")
    for n, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#") or line.lstrip().startswith("["):
            if pat.search(line):
                return True, f"{name}:{n}: {line.strip()}"
    return False, f"{name} has no entry for {version}"


def version_file_has(text: str | None, name: str, version: str) -> tuple[bool, str]:
    """RL-04: the committed version file contains the version (quoted or bare)."""
    if text is None:
        return False, f"{name} not found"
    pat = re.compile(rf"(?<![\w.]){re.escape(version)}(?![\w.+-])")
    for n, line in enumerate(text.splitlines(), 1):
        if pat.search(line):
            return True, f"{name}:{n}: {line.strip()}"
    return False, f"{name} does not contain {version}"


@contextmanager
def worktree(repo: str | Path, commit: str) -> Iterator[Path]:
    """A clean, detached worktree of ``commit`` (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="relbot-check-") as tmp:
        wt = Path(tmp) / "wt"
        git("worktree", "add", "--detach", "--force", str(wt), commit, cwd=repo)
        try:
            yield wt
        finally:
            git("worktree", "remove", "--force", str(wt), cwd=repo, check=False)
            git("worktree", "prune", cwd=repo, check=False)


def run_command(argv: tuple[str, ...], cwd: Path, timeout: float) -> tuple[bool, str]:
    """A configured check command: pass on exit 0; output (tail) kept as evidence."""
    try:
        p = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True,
                           timeout=timeout)
    except FileNotFoundError:
        return False, f"command not found: {argv[0]}"
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:g}s: {' '.join(argv)}"
    out = (p.stdout + p.stderr).strip()[-1500:]
    return p.returncode == 0, f"exit {p.returncode}: {out}" if out else f"exit {p.returncode}"


def decide(product: Product, cid: str, cand: Candidate,
           clock: Clock | None = None) -> Outcome | None:
    """Decide ``cid`` on ``cand.commit``; None for a check a person decides.

    This is the seam for check providers: a command check runs in a clean worktree of the
    candidate commit, builtin checks read the commit's files."""
    m = mode(product, cid)
    sha = cand.commit
    if m == "provider":  # GitHub/GitLab, asked about exactly this commit
        clock = clock or SystemClock()
        d = codehost.CodeHostProvider(product, Timing(clock.now, clock.sleep)).decide(
            cid, cand.version, sha)
        return Outcome(d.result, d.evidence, sha, d.details, d.recheck_at)
    if m == "command":
        try:
            with worktree(product.repo, sha) as wt:
                ok, ev = run_command(product.checks[cid], wt, product.check_timeout)
        except CommandFailed as exc:
            ok, ev = False, f"cannot check out {sha[:7]}: {exc}"
    elif cid in ("RL-03", "RL-04"):
        name = product.changelog if cid == "RL-03" else product.version_file
        fn = changelog_has if cid == "RL-03" else version_file_has
        text = show(product.repo, sha, name)
        ok, ev = fn(text, name, cand.version)
        final = cand.version.split("-")[0].split("+")[0]
        if not ok and final != cand.version:    # a pre-release of X.Y.Z may name X.Y.Z
            ok2, ev2 = fn(text, name, final)
            ok, ev = (True, ev2) if ok2 else (ok, ev)
    elif cid == "RL-08":
        ok = bool(cand.notes_digest) and cand.notes_commit == sha
        if ok:
            ev = f"notes sha256 {cand.notes_digest[:12]} drafted for {sha[:7]}"
        elif cand.notes_digest:
            ev = f"notes were drafted for {cand.notes_commit[:7]}, not {sha[:7]}"
        else:
            ev = "notes not drafted"
        return Outcome("pass" if ok else "pending", ev, sha)
    else:
        return None
    return Outcome("pass" if ok else "fail", ev, sha)
