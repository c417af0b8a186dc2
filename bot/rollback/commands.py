"""Run a rollback or health-check command: argv only, a timeout, output streamed and scrubbed."""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bot.errors import InvalidValue
from bot.redact import scrub_text

TAIL = 3000  # characters of output kept in a message / the record
log = logging.getLogger(__name__)


class CommandResult(BaseModel):
    """What one run of one command did (recorded in the evidence)."""

    name: str
    argv: list[str]
    exit_code: int | None
    timed_out: bool = False
    started: str
    ended: str
    seconds: float
    output_sha256: str
    output_lines: int
    tail: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def outcome(self) -> str:
        """``exit 0``, ``exit 3`` or ``timed out after 5s``."""
        if self.timed_out:
            return f"timed out after {self.seconds:.0f}s"
        if self.exit_code is None:
            return "could not start"
        return "exit 0" if self.ok else f"exit {self.exit_code}"


def expand(argv: tuple[str, ...] | list[str], values: dict[str, str]) -> list[str]:
    """Fill ``{product}``-style placeholders in each argument (no shell ever sees them)."""
    out = []
    for arg in argv:
        try:
            out.append(arg.format(**values))
        except (KeyError, IndexError, ValueError) as exc:
            known = ", ".join("{" + k + "}" for k in sorted(values))
            raise InvalidValue("rollback command argument", arg,
                               f"unknown placeholder {exc}; known: {known}") from None
    return out


def run(name: str, argv: list[str], cwd: Path, timeout: float, now: Callable[[], str],
        secrets: Any = (),
        on_output: Callable[[str], None] | None = None) -> CommandResult:
    """Run ``argv`` in ``cwd``; ``on_output(line)`` is called for each line as it arrives.

    The process runs in its own session so a timeout kills it and its children. Output is
    scrubbed of secrets before ``on_output`` or the record sees it; the digest covers the
    scrubbed text, which is what anyone can check. A failing ``on_output`` (Slack down) never
    stops the pipe from being drained.
    """
    started, t0 = now(), time.monotonic()
    env = {**os.environ, "RELBOT_ROLLBACK": "1"}
    for k in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        env.pop(k, None)
    try:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    except OSError as exc:
        text = scrub_text(f"cannot run {argv[0]}: {exc.strerror or exc}", secrets)
        return CommandResult(name=name, argv=argv, exit_code=None, started=started,
                             ended=now(), seconds=0.0, output_lines=1, tail=text,
                             output_sha256=hashlib.sha256(text.encode()).hexdigest())
    lines: list[str] = []
    shown = [on_output is not None]

    def reader() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = scrub_text(raw.decode("utf-8", "replace").rstrip("\n"), secrets)
            lines.append(line)
            if shown[0]:
                try:
                    on_output(line)  # type: ignore[misc]
                except Exception:  # noqa: BLE001 - keep draining; the record has it all
                    log.warning("streaming output of %s failed; still recording it", name,
                                exc_info=True)
                    shown[0] = False

    th = threading.Thread(target=reader, daemon=True, name=f"output-{name}")
    th.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:  # the whole group goes, children included
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
    th.join(timeout=10)  # a child left holding the pipe must not hang the rollback
    complete = not th.is_alive()
    snap = list(lines)
    text = "\n".join(snap)
    if not complete:
        text += "\n[relbot: output still open after the command ended; not recorded further]"
    return CommandResult(
        name=name, argv=argv, exit_code=proc.returncode, timed_out=timed_out, started=started,
        ended=now(), seconds=round(time.monotonic() - t0, 3),
        output_sha256=hashlib.sha256(text.encode()).hexdigest(), output_lines=len(snap),
        tail=text[-TAIL:])


class Streamer:
    """Turns ``on_output(line)`` calls into one thread message updated in place (throttled)."""

    def __init__(self, post: Callable[[str], str], update: Callable[[str, str], None],
                 title: str, every: float = 1.0) -> None:
        self._post, self._update, self.title, self.every = post, update, title, every
        self.ts: str | None = None
        self._last = 0.0
        self._tail: deque[str] = deque(maxlen=200)
        self._cut = False
        self._closed = False
        self._lock = threading.Lock()

    def render(self, text: str, footer: str = "", cut: bool = False) -> str:
        """The thread message: the output's tail in a code block, then ``footer``."""
        shown = text[-TAIL:]
        mark = "…\n" if cut or len(text) > len(shown) else ""
        body = f"```\n{mark}{shown}\n```" if text else "_(no output)_"
        return f"{self.title}\n{body}" + (f"\n{footer}" if footer else "")

    def __call__(self, line: str) -> None:
        with self._lock:
            if self._closed:
                return
            if len(self._tail) == self._tail.maxlen:
                self._cut = True
            self._tail.append(line)
            if self.ts is not None and time.monotonic() - self._last < self.every:
                return
            self._last = time.monotonic()
            self._send(self.render("\n".join(self._tail), cut=self._cut))

    def finish(self, text: str, footer: str) -> None:
        """The final state (full tail and outcome); later output calls are ignored."""
        with self._lock:
            self._closed = True
            self._send(self.render(text, footer))

    def _send(self, message: str) -> None:
        if self.ts is None:
            self.ts = self._post(message)
        else:
            self._update(self.ts, message)
