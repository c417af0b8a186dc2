"""``relbot demo [--keep DIR]``."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bot.cli import CLIError


def cmd_demo(keep: str | None, out: object = None) -> int:
    """Build the sandbox, play the story, print the transcript; exit 0 when every outcome
    the story shows was reached."""
    from bot.demo import sandbox
    from bot.demo.story import Story, explore_hint
    from bot.runner import setup_logging

    stream = out or sys.stdout
    if keep:
        root = Path(keep).resolve()
        if root.exists() and any(root.iterdir()):
            raise CLIError(f"relbot: --keep {keep}: directory is not empty", 2)
    else:
        root = Path(tempfile.mkdtemp(prefix="relbot-demo-"))
    started = time.monotonic()
    try:
        setup_logging("WARNING")
        sandbox.ensure_git_identity()
        sandbox.build(root)
        print(f"relbot demo: sandbox in {root}", file=stream, flush=True)
        story = Story(root, stream)  # type: ignore[arg-type]
        try:
            outcome = story.run()
        except LookupError as exc:  # the bot did not do what the story expects
            print(f"\nrelbot demo: FAILED: {exc}", file=stream)
            return 1
        print(f"\n(demo took {time.monotonic() - started:.1f} s)", file=stream)
        if keep:
            print(f"Sandbox kept in {root}. Explore it (the clock goes on from where the demo "
                  f"stopped):\n  {explore_hint(root, story.clock_iso)}", file=stream)
        else:
            print("Keep the sandbox to explore it: relbot demo --keep DIR", file=stream)
        return 0 if outcome.ok else 1
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _run(args: argparse.Namespace) -> int:
    return cmd_demo(args.keep)


def register(subparsers: argparse._SubParsersAction) -> None:
    """``relbot demo``."""
    p = subparsers.add_parser("demo", help="play a release week in a sandbox (real repos, "
                              "the real bot, the built-in Slack stand-in)")
    p.add_argument("--keep", metavar="DIR", default=None,
                   help="build the sandbox in DIR (new or empty) and keep it")
    p.set_defaults(func=_run)
