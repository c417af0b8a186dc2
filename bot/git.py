"""Run git as a real subprocess (argv only, never a shell)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bot.errors import CommandFailed

_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "LC_ALL": "C",
}


def git(*args: str, cwd: str | Path | None = None, input: bytes | str | None = None,
        env: dict[str, str] | None = None, timeout: float = 300, check: bool = True,
        text: bool = True) -> str:
    """Run ``git args...`` in ``cwd`` and return stdout; raise CommandFailed on failure."""
    full_env = {**os.environ, **_ENV, **(env or {})}
    if isinstance(input, str) and not text:
        input = input.encode()
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, input=input, capture_output=True, env=full_env,
            timeout=timeout, text=text,
        )
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed(["git", *args], None, str(exc)) from None
    if check and proc.returncode != 0:
        err = proc.stderr if text else proc.stderr.decode(errors="replace")
        raise CommandFailed(["git", *args], proc.returncode, err)
    return proc.stdout


def is_git_repo(path: str | Path) -> bool:
    """True when ``path`` is a git work tree or bare repository."""
    try:
        git("rev-parse", "--git-dir", cwd=path)
    except (CommandFailed, FileNotFoundError, NotADirectoryError):
        return False
    return True
