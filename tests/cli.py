"""Run ``relbot ...`` for a test: in this process, or as a real ``python -m bot`` subprocess.

:func:`relbot` calls the console script's own entry point (:func:`bot.cli.main`) here, with
the arguments, working directory, environment and standard input the test gives, and
returns what a subprocess would: the exit code, stdout and stderr (an uncaught exception
is a traceback on stderr and exit code 1, as ``python -m bot`` shows it; log records of
WARNING and above reach stderr as Python's last-resort handler prints them). A new Python
process costs ~0.4 s of CPU to import relbot, which most CLI tests do not need to prove
again. ``run``, ``console`` and ``demo`` set up the process's logging (and ``run`` its
signal handlers), so :func:`relbot` runs them as a process (:func:`relbot_process`), as
are the ``python -m bot`` wiring itself (``tests/test_foundation_cli.py``) and commands
run with privileges dropped in ``preexec_fn`` (``tests/test_security_readonly.py``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IN_PROCESS_NOT = ("run", "console", "demo")   # they set up logging (and `run` signals)
_VALUED = ("--config", "--db")   # options before the command that take a value


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _full_env(env: Mapping[str, str] | None, replace: bool) -> dict[str, str]:
    base = {} if replace else dict(os.environ)
    return {**base, "PYTHONPATH": str(ROOT), **(env or {})}


def _command(args: tuple[str, ...]) -> str | None:
    rest = list(args)
    while rest and rest[0].startswith("-"):
        rest = rest[2:] if rest[0] in _VALUED else rest[1:]
    return rest[0] if rest else None


def relbot_process(*args: str, cwd: Path | str = ROOT, env: Mapping[str, str] | None = None,
                   stdin: str | None = None, replace_env: bool = False,
                   timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m bot ARGS`` as a real subprocess (``env`` on top of this environment, or
    instead of it with ``replace_env``)."""
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd,
                          env=_full_env(env, replace_env), input=stdin, capture_output=True,
                          text=True, timeout=timeout)


def relbot(*args: str, cwd: Path | str = ROOT, env: Mapping[str, str] | None = None,
           stdin: str | None = None, replace_env: bool = False,
           in_process: bool | None = None) -> subprocess.CompletedProcess:
    """``relbot ARGS`` through :func:`bot.cli.main` in this process (see the module doc);
    ``in_process=True`` for ``run``/``console``/``demo`` refused before they set anything up."""
    if not in_process and _command(args) in IN_PROCESS_NOT:
        return relbot_process(*args, cwd=cwd, env=env, stdin=stdin, replace_env=replace_env)
    from bot.cli import main

    out, err = io.StringIO(), io.StringIO()
    last_resort = logging.StreamHandler(err)
    last_resort.setLevel(logging.WARNING)
    root = logging.getLogger()
    old_cwd, old_stdin = os.getcwd(), sys.stdin
    root.addHandler(last_resort)
    try:
        with _environment(_full_env(env, replace_env)), contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            os.chdir(cwd)
            sys.stdin = io.StringIO(stdin or "")
            try:
                code = main(list(args))
            except SystemExit as exc:   # argparse's usage errors, --help
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if isinstance(exc.code, str):
                    print(exc.code, file=sys.stderr)
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        sys.stdin = old_stdin
        os.chdir(old_cwd)
        root.removeHandler(last_resort)
    return subprocess.CompletedProcess(["relbot", *args], int(code or 0), out.getvalue(),
                                       err.getvalue())
