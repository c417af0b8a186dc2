"""Start-up to the first ``GET /healthz`` 200: ``relbot run --http`` vs a bare Bolt app.

    python bench/startup.py [-r 5]

The bare app is ``bench/bare.py``: Bolt with one listener, served by waitress with the same
settings as relbot (``bot.wsgi.ServerLimits``), so both sides pay for the same HTTP server.
Both start as fresh subprocesses on loopback (port 0, printed on stderr), the client polls
``/healthz`` every 5 ms from the moment the process is spawned; medians of ``-r`` runs,
interleaved. relbot opens a fresh SQLite file, runs its migrations, loads the config and
talks to the built-in stand-in Web API (``SLACK_API_URL``) like production would to Slack.
Both run with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` dropped, the caches under a
temporary ``PYTHONPYCACHEPREFIX``) after one discarded warm-up run each, as an installed
relbot does (pip compiles it); otherwise relbot's own modules are compiled from source on
every start and the installed slack-bolt of the bare app is not.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-signing-secret-0123456789abcdef"


def first_health(cmd: list[str], env: dict[str, str], cwd: str) -> float:
    """Seconds from spawning ``cmd`` to its first /healthz 200."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        base = ""
        while not base:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                raise SystemExit(f"{cmd} exited {proc.returncode}")
            m = re.search(r"listening on (http://[^/\s]+)", line)
            base = m.group(1) if m else ""
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0
            except OSError:
                time.sleep(0.005)
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-r", type=int, default=5, help="runs of each")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from bot.standin.webapi import FakeSlackAPI
    from bot.wsgi import ServerLimits

    bare_cmd = [sys.executable, str(ROOT / "bench" / "bare.py"),
                json.dumps(dataclasses.asdict(ServerLimits()))]

    api = FakeSlackAPI().start()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SLACK_BOT_TOKEN": "xoxb-bench-0000",
           "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": api.url,
           "RELBOT_LOG_LEVEL": "INFO"}
    env.pop("SLACK_APP_TOKEN", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    times: dict[str, list[float]] = {"bare": [], "relbot": []}
    try:
        with tempfile.TemporaryDirectory(prefix="relbot-bench-") as tmp:
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
            cfg = Path(tmp) / "relbot.yml"
            cfg.write_text("channel: C0RELEASES\napprovers: [U0ALICE, U0BOB]\n")
            for i in range(-1, args.r):  # run -1: the warm-up, fills the bytecode cache
                bare = first_health(bare_cmd, env, tmp)
                relbot = first_health(
                    [sys.executable, "-m", "bot", "run", "--http", "--port", "0", "--config",
                     str(cfg), "--db", str(Path(tmp) / f"r{i}.db")], env, tmp)
                if i >= 0:
                    times["bare"].append(bare)
                    times["relbot"].append(relbot)
    finally:
        api.stop()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"runs={args.r} (cpus: {os.cpu_count()}, python {sys.version.split()[0]})")
    for k in ("bare", "relbot"):
        print(f"{k:8} median {med[k] * 1000:7.0f} ms   runs "
              + " ".join(f"{x * 1000:.0f}" for x in times[k]))
    ratio = med["relbot"] / med["bare"]
    print(f"ratio {ratio:.2f}x   target <= 1.5x: {'MET' if ratio <= 1.5 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
