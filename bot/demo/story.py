"""The demo's story, played through the real bot and the built-in Slack stand-in.

Every chat line goes through :class:`bot.standin.console.Console` (signed requests into the
real Bolt app, the Web API stand-in recording what the bot says), so the transcript is exactly
what ``relbot console`` prints. Messages are found by what they say, not by number, so the
story survives changes to how many messages a feature posts.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from bot.clock import FakeClock
from bot.config import ConfigHolder, load_config
from bot.demo import sandbox
from bot.git import git
from bot.standin.console import Console
from bot.standin.local import LocalSlack
from bot.standin.webapi import FakeSlackAPI, Message

START = "2026-11-23T08:00:00Z"
"""Monday 23 November 2026, 09:00 in Berlin: week 1 (development) of a cycle."""
USERS = ("U0ALICE", "U0BOB", "U0CAROL", "U0DAVE")
VERSION = "1.4.0"
STABILIZATION = "Stabilization week"


@dataclass
class Outcome:
    """What the demo showed, checked at the end (the test asserts the same things)."""

    checks: list[tuple[str, bool]] = field(default_factory=list)

    def expect(self, what: str, ok: bool) -> None:
        self.checks.append((what, ok))

    @property
    def ok(self) -> bool:
        return all(ok for _, ok in self.checks)


class Story:
    """One run of the demo in ``root`` (a sandbox built by :func:`sandbox.build`)."""

    def __init__(self, root: Path, out: TextIO) -> None:
        self.root, self.out = root, out
        self.config_path = root / sandbox.CONFIG_NAME
        self.db_path = root / "relbot.db"
        self.clock = FakeClock(START)
        self.holder = ConfigHolder(load_config(self.config_path), self.config_path)
        self.outcome = Outcome()
        self.api: FakeSlackAPI | None = None
        self.console = self._start()

    # --- plumbing ------------------------------------------------------------------
    def _start(self) -> Console:
        local = LocalSlack(self.holder, self.db_path, clock=self.clock, real_time=False,
                           api=self.api)
        if self.api is None:
            self.api = local.api
            for u in USERS:
                local.state.add_user(u)
            return Console(local, self.out, clock=self.clock)
        self.console.local = local  # same Slack, same transcript: numbering continues
        return self.console

    def restart(self) -> None:
        """Stop the bot and start a new one on the same database (Slack stays up)."""
        self.console.local.close(keep_api=True)
        self.console = self._start()
        self.say("(relbot stopped and started again on the same database)")

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def chapter(self, title: str) -> None:
        self.say(f"\n=== {title} ===")

    def chat(self, *lines: str) -> None:
        for line in lines:
            self.console.handle(line)

    def sh(self, *argv: str, cwd: Path | None = None) -> str:
        """Run a real command in the sandbox and show it with its output."""
        shown = " ".join(shlex.quote(a) for a in argv)
        self.say(f"$ {shown}")
        run = [sys.executable, "-m", "bot", *argv[1:]] if argv[0] == "relbot" else list(argv)
        proc = subprocess.run(run, cwd=cwd or self.root, capture_output=True, text=True)
        text = (proc.stdout + proc.stderr).rstrip()
        if text:
            self.say("\n".join("    " + ln for ln in text.splitlines()))
        return proc.stdout

    def find(self, pred: Callable[[Message], bool]) -> Message:
        """The latest channel message for which ``pred`` holds."""
        assert self.api is not None
        hits = [m for m in self.api.state.messages if pred(m)]
        if not hits:
            raise LookupError("the demo expected a message that the bot did not post")
        return hits[-1]

    def top(self, needle: str) -> Message:
        return self.find(lambda m: m.thread_ts is None and needle in m.rendered)

    def count(self, needle: str) -> int:
        assert self.api is not None
        return sum(1 for m in self.api.state.messages if needle in m.text)

    # --- the story -----------------------------------------------------------------
    def run(self) -> Outcome:
        self.chapter("Monday 23 November 2026, 09:00 Europe/Berlin: a development week")
        self.say("Slack stand-in users U0ALICE (release manager), U0BOB, U0CAROL "
                 "(@release-managers), U0DAVE (@oncall); channel C0RELEASES.")
        self.chat("group @release-managers U0CAROL", "group @oncall U0DAVE", "/release calendar 3")
        self.release()
        self.sync()
        self.stabilization()
        self.rollback()
        return self.finish()

    def release(self) -> None:
        self.chapter("1. A release: proposed bump, checks, five steps, a pushed tag")
        self.sh("git", "-C", "product", "log", "--oneline", "v1.3.0..HEAD")
        self.sh("relbot", "release", "propose", "api", "--config", sandbox.CONFIG_NAME)
        self.say("# Alice commits the version bump and the changelog entry, and pushes:")
        sandbox.commit_release_bump(self.root / "product", VERSION,
                                    ["search endpoint", "worker retries on timeout"])
        self.sh("git", "-C", "product", "show", "--stat", "--format=%h %s", "HEAD")
        self.say("# /release start with nothing after it opens a form with the proposal:")
        self.chat("/release start")
        assert self.api is not None
        self.chat(f"submit {len(self.api.state.modals)}", "/release notes", "/release advance",
                  "/release advance", "/release advance")
        msg = self.top(f"Release api {VERSION}")
        self.chat("as U0BOB", f"click {msg.number} release:check:RL-05",
                  "as U0ALICE", f"click {msg.number} release:check:RL-06",
                  "as U0CAROL", f"click {msg.number} release:check:RL-06",
                  "as U0ALICE", "/release advance", "/release advance", "/release advance")
        shown = self.sh("git", "-C", "remotes/product.git", "show", f"v{VERSION}:VERSION")
        self.sh("git", "-C", "remotes/product.git", "tag", "-n1", "--list", "v*")
        self.outcome.expect(f"tag v{VERSION} pushed, its VERSION file says {VERSION}",
                            shown.strip() == VERSION)
        (self.root / "deployed" / "api").write_text(VERSION + "\n")
        self.say(f"# {VERSION} is deployed (the demo's deploy target is the file deployed/api)")

    def sync(self) -> None:
        self.chapter("2. A sync: dry-run, a refused self-approval, two approvals by reaction")
        site = self.root / "remotes" / "site.git"
        before = git("rev-parse", "main", cwd=site).strip()
        self.chat("advance 20m", "/sync plan docs")
        plan = self.top("docs")
        self.chat(f"react white_check_mark {plan.number}",
                  "as U0BOB", "home", f"react white_check_mark {plan.number}",
                  "as U0CAROL", f"react +1 {plan.number}", "as U0ALICE")
        self.sh("git", "-C", "remotes/site.git", "log", "--format=%h %an: %s", "-2")
        after = self.sh("git", "-C", "remotes/site.git", "show", "--stat", "--format=",
                        "main").strip()
        moved = git("rev-parse", "main", cwd=site).strip() != before
        self.outcome.expect("docs sync committed to the site (content/docs/search.md)",
                            moved and "content/docs/search.md" in after)

    def stabilization(self) -> None:
        self.chapter("3. A week later: the stabilization week starts (freeze Monday 09:00)")
        self.chat("advance 7d")
        posted = self.count(STABILIZATION)
        self.restart()
        self.chat("advance 1h")
        self.say(f"# '{STABILIZATION}' reminders in the channel: {self.count(STABILIZATION)}")
        self.outcome.expect("stabilization reminder posted once, not again after a restart",
                            posted == 1 and self.count(STABILIZATION) == 1)

    def rollback(self) -> None:
        self.chapter("4. An incident: RB-IMM, the product lock, resolve")
        self.chat("as U0DAVE", f"/rollback api {VERSION} sev=1 impact=widespread to=1.3.0 "
                  f"error rate 40% after the {VERSION} deploy")
        deployed = self.sh("cat", "deployed/api").strip()
        self.outcome.expect("RB-IMM ran the rollback command: deployed/api says 1.3.0",
                            deployed == "1.3.0")
        self.chat("as U0ALICE", "/release start api patch")
        self.outcome.expect("the product lock refused a release",
                            any("refused until" in m.rendered for m in self.api.state.private)
                            if self.api else False)
        self.chat("as U0DAVE", "/rollback resolve RB-0001 bad migration; fixed forward in 1.4.1",
                  "/rollback list")

    def finish(self) -> Outcome:
        self.chapter("5. The audit log")
        self.console.local.close()
        from bot.cli import cmd_audit_verify

        text, code = cmd_audit_verify(str(self.db_path))
        self.say(f"$ relbot audit verify --db relbot.db\n    {text}")
        self.outcome.expect("relbot audit verify: chain intact", code == 0)
        self.chapter("What the demo showed")
        for what, ok in self.outcome.checks:
            self.say(f"  [{'ok' if ok else 'FAILED'}] {what}")
        return self.outcome

    @property
    def clock_iso(self) -> str:
        return self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def explore_hint(root: Path, clock: str) -> str:
    """The command that continues where the demo stopped."""
    q = shlex.quote
    return (f"relbot console --config {q(str(root / sandbox.CONFIG_NAME))} "
            f"--db {q(str(root / 'relbot.db'))} --clock {clock}")


