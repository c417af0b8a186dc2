"""SQL statements and Slack Web API calls for one vote and for one RB-IMM (issue 11, item 9).

    python bench/vote_cost.py [--changes 2000] [--list]

The whole bot runs in-process against the built-in Slack stand-in (tests/harness.py ``Chat``:
signed requests into the real Bolt app, real SQLite, real git). Statements are counted with
sqlite3's ``set_trace_callback`` on every connection (``Database.trace``; BEGIN/COMMIT count
as statements; ``--list`` prints each with the thread that ran it); Slack calls are read
from the stand-in's call log. The measured action is sent without the harness's own wait
(which reads the outbox and wakes its loop); the window opens just after one of the outbox's
idle polls and closes once neither a statement nor a Slack call came for ``QUIET`` s.
Measured:

* one counted vote (not reaching quorum) and one revoked vote on a ``--changes``-file plan;
* the quorum vote on that plan (re-reads the reactions, then executes the sync);
* one ``/rollback api sev=1 impact=widespread ...`` (RB-IMM) from the command to the end.

Each ``chat.update`` is classed *visible* if it changed the message's rendered text, else
*no-op*; the target is one ``chat.update`` per visible change. The floor printed beside each
figure is the least any implementation does: for a vote, read the request, write the vote,
append one audit entry (BEGIN, SELECT last, INSERT, COMMIT), read the votes: 7 statements and
one ``chat.update``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dry_run import fast_import  # noqa: E402

VOTE_FLOOR, VOTE_TARGET, RBIMM_TARGET = 7, 15, 50
QUIET = 0.3  # no statement and no Slack call for this long: the bot is done
LIST = False  # --list: print every statement with its thread


class Meter:
    """Counts statements on a database and Slack calls on a stand-in between start/stop."""

    def __init__(self, chat: object) -> None:
        self.chat = chat
        self.sql: list[str] = []
        self.by_thread: Counter = Counter()
        self.listing: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def _on(self, sql: str) -> None:
        who = threading.current_thread().name.split(" ", 1)[0].split("_", 1)[0]
        who = who.rstrip("-0123456789") or who
        with self._lock:
            self.sql.append(sql)
            self.by_thread[who] += 1
            self.listing.append((who, " ".join(sql.split())))

    def __enter__(self) -> Meter:
        self._after_idle_poll()
        self.n_calls = len(self.chat.api.state.calls)  # type: ignore[attr-defined]
        self.chat.svc.db.trace(self._on)  # type: ignore[attr-defined]
        return self

    def _after_idle_poll(self) -> None:
        """Start just after one of the outbox's idle polls (a read of the pending rows every
        ``bot.outbox.POLL`` s while there is nothing to send), once whatever ran before has
        finished: the window then holds the statements the measured action caused, not the
        tail of the previous one or an idle poll's."""
        marks: list[float] = []
        self.chat.svc.db.trace(lambda sql: marks.append(time.monotonic()))  # type: ignore[attr-defined]
        since = time.monotonic()
        while time.monotonic() - (marks[-1] if marks else since) < QUIET:
            time.sleep(0.005)
        n, deadline = len(marks), time.monotonic() + 1.0
        while len(marks) == n and time.monotonic() < deadline:
            time.sleep(0.002)
        while time.monotonic() - marks[-1] < 0.02 if marks else False:
            time.sleep(0.002)
        self.chat.svc.db.trace(None)  # type: ignore[attr-defined]

    def __exit__(self, *exc: object) -> None:
        # Wait without touching the bot: the harness's own wait (``wait_idle``) reads the
        # outbox and wakes its loop, which would count the measurement's statements.
        chat = self.chat
        chat.svc.work.wait_idle()  # type: ignore[attr-defined]
        seen, since = (-1, -1), time.monotonic()
        while time.monotonic() - since < QUIET:
            now = (len(self.sql), len(chat.api.state.calls))  # type: ignore[attr-defined]
            if now != seen:
                seen, since = now, time.monotonic()
            time.sleep(0.01)
        chat.svc.db.trace(None)  # type: ignore[attr-defined]
        self.calls = list(chat.api.state.calls[self.n_calls:])  # type: ignore[attr-defined]
        chat.local.wait_idle()  # type: ignore[attr-defined]
        if len(chat.api.state.calls) != self.n_calls + len(self.calls):  # type: ignore[attr-defined]
            print(f"  (the meter stopped before the bot was done: {QUIET} s quiet was too short)")

    def slack(self) -> Counter:
        return Counter(c.method for c in self.calls)

    def updates(self) -> tuple[int, int]:
        """(visible, no-op) chat.update calls in the window: did each change the text the
        message showed before it (its last update, or the first update after its post)?"""
        from bot.render.common import blocks_to_text

        shown: dict[str, str] = {}
        visible = noop = 0
        for i, c in enumerate(self.chat.api.state.calls):  # type: ignore[attr-defined]
            if c.method != "chat.update":
                continue
            ts = c.params.get("ts", "")
            text = blocks_to_text(c.params.get("blocks") or None, c.params.get("text", ""))
            if i >= self.n_calls:
                if shown.get(ts) == text:
                    noop += 1
                else:
                    visible += 1
            shown[ts] = text
        return visible, noop

    def report(self, label: str, target: int | None) -> None:
        kinds = Counter(s.split(None, 1)[0].upper() for s in self.sql)
        vis, noop = self.updates()
        verdict = "" if target is None else (
            f"   target <= {target}: {'MET' if len(self.sql) <= target else 'MISSED'}")
        print(f"{label}\n  SQL statements: {len(self.sql):4d}  ("
              + ", ".join(f"{k} {n}" for k, n in kinds.most_common()) + f"){verdict}")
        print("  by thread:      " + ", ".join(f"{k} {n}" for k, n in
                                               self.by_thread.most_common()))
        print("  Slack calls:    " + ", ".join(f"{m} {n}" for m, n in sorted(self.slack().items()))
              + f"\n  chat.update:    {vis} visible, {noop} no-op"
              f"   target: one per visible change: {'MET' if noop == 0 else 'MISSED'}")
        if LIST:
            for who, sql in self.listing:
                print(f"    {who:20s} {sql[:150]}")


def _sync_chat(tmp: Path, changes: int) -> object:
    from tests.harness import BASE_CONFIG, Chat

    src = tmp / "product.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(src)], check=True)
    fast_import(src, changes, changes)
    dst = tmp / "website.git"
    subprocess.run(["git", "clone", "-q", "--bare", "-b", "main", str(src), str(dst)],
                   check=True)
    cfg = BASE_CONFIG.replace("quorum: 2", "quorum: 3") + (
        "syncs:\n  - {name: big, type: cross-repo, "
        f"source: {{repo: {src}, ref: src}}, target: {{repo: {dst}, branch: main}}}}\n")
    (tmp / "chat").mkdir()
    return Chat(tmp / "chat", cfg, groups={"release-managers": ["U0CAROL", "U0DAVE"]})


def bench_vote(tmp: Path, changes: int) -> None:
    chat = _sync_chat(tmp, changes)
    try:
        chat.command("U0ALICE", "/sync plan big")  # type: ignore[attr-defined]
        plan = next(m for m in chat.messages  # type: ignore[attr-defined]
                    if m.text.startswith("Dry-run DR-"))
        chat.react("U0BOB", plan)  # type: ignore[attr-defined]  # warm-up: caches, groups
        chat.unreact("U0BOB", plan)  # type: ignore[attr-defined]
        send = chat.sender  # type: ignore[attr-defined]  # sends without the harness's wait
        with Meter(chat) as m:
            send.react("U0BOB", plan, "white_check_mark")
        m.report(f"one counted vote on a {changes}-change plan (floor {VOTE_FLOOR} statements, "
                 "1 chat.update)", VOTE_TARGET)
        with Meter(chat) as m:
            send.react("U0BOB", plan, "white_check_mark", removed=True)
        m.report("one revoked vote", VOTE_TARGET)
        chat.react("U0BOB", plan)  # type: ignore[attr-defined]
        chat.react("U0CAROL", plan)  # type: ignore[attr-defined]
        with Meter(chat) as m:
            send.react("U0DAVE", plan, "white_check_mark")
        m.report("the quorum vote (reactions.get, then the sync executes)", None)
    finally:
        chat.close()  # type: ignore[attr-defined]


def bench_rbimm(tmp: Path) -> None:
    from tests.harness import Chat
    from tests.rollback_fixtures import GROUPS, prepare, rollback_config

    (tmp / "rb").mkdir()
    chat = Chat(tmp / "rb", rollback_config(), groups=GROUPS)
    prepare(chat.tmp)
    try:
        with Meter(chat) as m:
            chat.sender.command("U0ALICE", "/rollback api sev=1 impact=widespread error rate 40%")
        m.report("one RB-IMM (/rollback api sev=1 impact=widespread ..., to done)", RBIMM_TARGET)
    finally:
        chat.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--changes", type=int, default=2000)
    ap.add_argument("--list", action="store_true",
                    help="print every statement, in order, with the thread that ran it")
    args = ap.parse_args()
    global LIST
    LIST = args.list
    import logging
    import os

    logging.disable(logging.WARNING)
    print(f"(cpus: {os.cpu_count()}, python {sys.version.split()[0]})")
    with tempfile.TemporaryDirectory(prefix="relbot-bench-") as t:
        bench_vote(Path(t), args.changes)
        bench_rbimm(Path(t))
    return 0


if __name__ == "__main__":
    sys.exit(main())
