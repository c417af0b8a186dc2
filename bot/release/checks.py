"""Checks RL-01..RL-08: names, which step each gates, and the automatic decisions."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from bot.release.config import Product

STEPS = ("Feature Freeze", "RC", "Validation", "Execution", "Post-Release")
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


def initial(bump: str) -> dict[str, str]:
    """Initial results: everything pending, RL-07 not applicable unless major."""
    return {cid: ("n/a" if cid == "RL-07" and bump != "major" else "pending") for cid in NAMES}


def gating(step: str) -> tuple[str, ...]:
    """The checks that must pass before leaving ``step``."""
    return GATES.get(step, ())


def mode(product: Product, cid: str) -> str:
    """``command`` (configured argv), ``builtin`` (bot decides) or ``manual`` (buttons)."""
    if cid in product.checks:
        return "command"
    return "builtin" if cid in BUILTIN else "manual"


def changelog_has(path: Path, version: str) -> tuple[bool, str]:
    """RL-03: a heading or line naming the version in the changelog."""
    if not path.is_file():
        return False, f"{path.name} not found"
    pat = re.compile(rf"(^|[\s\[v]){re.escape(version)}($|[\s\]])")
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if line.lstrip().startswith("#") or line.lstrip().startswith("["):
            if pat.search(line):
                return True, f"{path.name}:{n}: {line.strip()}"
    return False, f"{path.name} has no entry for {version}"


def version_file_has(path: Path, version: str) -> tuple[bool, str]:
    """RL-04: the version file contains the version (quoted or bare)."""
    if not path.is_file():
        return False, f"{path.name} not found"
    pat = re.compile(rf"(?<![\w.]){re.escape(version)}(?![\w.+-])")
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if pat.search(line):
            return True, f"{path.name}:{n}: {line.strip()}"
    return False, f"{path.name} does not contain {version}"


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
