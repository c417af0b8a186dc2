"""CPU per vote on a large plan: ``relbot run --http`` vs a bare Bolt app that only acks.

    python bench/vote.py [--changes 2000] [-n 200] [--paced]

relbot runs as a real subprocess with a fresh SQLite file and the built-in stand-in Web API.
A ``/sync plan`` of ``--changes`` changed files is posted (not timed), then ``-n`` signed
``reaction_added`` / ``reaction_removed`` events by approvers on that dry-run (quorum set out
of reach, so every vote is counted or revoked, audited and the message updated, and nothing
executes). The figure is the server process's CPU time (utime+stime from /proc, all threads)
per event, once the message's updates have settled (the outbox coalesces queued updates of
one message, so there are fewer ``chat.update`` calls than votes; relbot's idle CPU over
the quiet spell is subtracted); the bare Bolt app gets the same events in the same run and
only acks them. ``--paced`` sends each vote only once the previous one's ``chat.update`` has
arrived, so each vote pays for its own update, as when votes come seconds apart (relbot's
idle CPU is then subtracted at its rate over the whole run).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ack import cpu_seconds  # noqa: E402
from dry_run import fast_import  # noqa: E402

SECRET = "bench-signing-secret-0123456789abcdef"
VOTERS = [f"U0V{i:04d}" for i in range(20)]
BARE = """
import os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
url = os.environ["SLACK_API_URL"]
app = App(client=WebClient(token="xoxb-bare", base_url=url if url.endswith("/") else url + "/"),
          signing_secret=os.environ["SLACK_SIGNING_SECRET"], token_verification_enabled=False)

@app.event("reaction_added")
def added(ack):
    ack()

@app.event("reaction_removed")
def removed(ack):
    ack()

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def log_message(self, *a):
        pass
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        resp = app.dispatch(BoltRequest(body=raw.decode(),
                            headers={k.lower(): [v] for k, v in self.headers.items()}))
        data = (resp.body or "").encode()
        self.send_response(resp.status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(f"listening on http://127.0.0.1:{srv.server_address[1]}/slack/events", file=sys.stderr,
      flush=True)
srv.serve_forever()
"""


def start(cmd: list[str], env: dict[str, str], cwd: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    while True:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            raise SystemExit(f"{cmd} exited {proc.returncode}")
        m = re.search(r"listening on (http://\S+/slack/events)", line)
        if m:
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, m.group(1)


def votes(sender: object, msg: object, n: int, updated: object = None) -> None:
    """``n`` events: each voter adds, later removes, their reaction; ``updated``: wait after
    each until it returns True (``--paced``: the vote's own chat.update has arrived)."""
    for i in range(n):
        user = VOTERS[i % len(VOTERS)]
        removed = (i // len(VOTERS)) % 2 == 1
        sender.react(user, msg, "white_check_mark", removed=removed)  # type: ignore[attr-defined]
        deadline = time.time() + 30
        while updated is not None and not updated(i):  # type: ignore[operator]
            if time.time() > deadline:
                raise SystemExit(f"vote {i} did not update the message")
            time.sleep(0.001)


QUIET = 0.5
"""The outbox coalesces updates of one message, so the votes are done when no chat.update
has arrived for this long; relbot's idle CPU over as long a quiet spell is subtracted."""


def idle_cpu(pid: int, seconds: float) -> float:
    c0 = cpu_seconds(pid)
    time.sleep(seconds)
    return cpu_seconds(pid) - c0


def settle(api: object, base: int, deadline: float) -> None:
    """Wait until the message was updated and then no chat.update came for QUIET s."""
    count, since = base, time.time()
    while count == base or time.time() - since < QUIET:
        if time.time() > deadline:
            raise SystemExit("the votes did not update the message")
        now = len(api.calls("chat.update"))  # type: ignore[attr-defined]
        if now != count:
            count, since = now, time.time()
        time.sleep(0.02)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--changes", type=int, default=2000)
    ap.add_argument("-n", type=int, default=200, help="votes per server")
    ap.add_argument("--paced", action="store_true",
                    help="send each vote once the last one's chat.update has arrived: every "
                         "vote pays for its own update (no coalescing), as when votes are "
                         "seconds apart")
    args = ap.parse_args()
    from bot.standin.dispatcher import SlackSender
    from bot.standin.webapi import FakeSlackAPI

    api = FakeSlackAPI().start()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SLACK_BOT_TOKEN": "xoxb-bench-0000",
           "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": api.url,
           "RELBOT_LOG_LEVEL": "WARNING"}
    env.pop("SLACK_APP_TOKEN", None)
    with tempfile.TemporaryDirectory(prefix="relbot-bench-") as tmp_name:
        tmp = Path(tmp_name)
        src = tmp / "product.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(src)], check=True)
        fast_import(src, args.changes, args.changes)
        dst = tmp / "website.git"
        subprocess.run(["git", "clone", "-q", "--bare", "-b", "main", str(src), str(dst)],
                       check=True)
        cfg = tmp / "relbot.yml"
        cfg.write_text(f"channel: C0RELEASES\napprovers: [{', '.join(VOTERS)}]\n"
                       "approval: {quorum: 1000}\nsyncs:\n"
                       f"  - {{name: big, type: cross-repo, source: {{repo: {src}, ref: src}},"
                       f" target: {{repo: {dst}, branch: main}}}}\n")
        relbot, rurl = start([sys.executable, "-m", "bot", "run", "--http", "--port", "0",
                              "--config", str(cfg), "--db", str(tmp / "r.db")], env, tmp_name)
        bare, burl = start([sys.executable, "-c", BARE], env, tmp_name)
        try:
            rs = SlackSender(rurl, SECRET, api)
            rs.command("U0ALICE", "/sync plan big")
            deadline = time.time() + 120
            while not any(m.text.startswith("Dry-run DR-") for m in api.state.messages):
                if time.time() > deadline:
                    raise SystemExit("no dry-run posted")
                time.sleep(0.05)
            plan = next(m for m in api.state.messages if m.text.startswith("Dry-run DR-"))
            while "approved by" not in (api.state.by_ts(plan.channel, plan.ts) or plan).text:
                time.sleep(0.05)
            time.sleep(0.5)
            idle = idle_cpu(relbot.pid, QUIET)
            base_updates = len(api.calls("chat.update"))
            c0, t0 = cpu_seconds(relbot.pid), time.monotonic()
            if args.paced:
                votes(rs, plan, args.n,
                      lambda i: len(api.calls("chat.update")) > base_updates + i)
                time.sleep(0.05)
                idle *= (time.monotonic() - t0) / QUIET   # idle CPU at its rate, all along
            else:
                votes(rs, plan, args.n)
                settle(api, base_updates, deadline + 300)
            updates = len(api.calls("chat.update")) - base_updates
            relbot_cpu = (cpu_seconds(relbot.pid) - c0 - idle) / args.n
            bs = SlackSender(burl, SECRET, api)
            c0 = cpu_seconds(bare.pid)
            votes(bs, plan, args.n)
            bare_cpu = (cpu_seconds(bare.pid) - c0) / args.n
        finally:
            for p in (relbot, bare):
                p.terminate()
                p.wait(30)
            api.stop()
    print(f"changes={args.changes} votes={args.n} (cpus: {os.cpu_count()})")
    print(f"bare Bolt ack:   {bare_cpu * 1000:7.2f} ms CPU per event")
    print(f"relbot vote:     {relbot_cpu * 1000:7.2f} ms CPU per vote "
          f"(count/revoke, audit; {updates} chat.update for {args.n} votes"
          + (", one each)" if args.paced else ", coalesced by the outbox)"))
    extra = (relbot_cpu - bare_cpu) * 1000
    print(f"relbot - bare:   {extra:7.2f} ms   target <= 1 ms: {'MET' if extra <= 1 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
