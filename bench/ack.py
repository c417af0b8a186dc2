"""Ack latency: signed ``/release help`` against ``relbot run --http`` vs a bare Bolt app.

    python bench/ack.py [-n 2000] [-c 8]
    python bench/ack.py -n 2000 -c 32        # the throughput target of issue 14

Both servers run as real subprocesses in the same run, both answer on loopback over
HTTP/1.1 keep-alive, and both are driven by the same client: C threads, each with its own
connection, sending signed slash commands. relbot runs with the built-in stand-in Web API
(``SLACK_API_URL``) and a fresh SQLite file, so every request also writes its audit entry.
The floor is ``bench/bare.py``: Bolt with one ``/release`` listener that only acks, on
waitress with the same settings as relbot (``bot.wsgi.ServerLimits``, the same ``--threads``),
run twice: with Bolt's defaults (``bare``: the listener runs on Bolt's executor and the
request thread polls for the ack every 10 ms) and with ``process_before_response=True``
(``bare-pbr``: the listener runs in the request thread). Prints p50/p99 of each, the
throughput of each (requests per second of wall time while C clients drive it) and the CPU
time each server process spent per request (utime+stime from /proc): Bolt's ack wait (it
polls every 10 ms) hides any work faster than that from the latency figures, never from the
CPU figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import hmac
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-signing-secret-0123456789abcdef"
CONFIG = """\
channel: C0RELEASES
timezone: Europe/Berlin
approvers: [U0ALICE, U0BOB]
"""


def _start(cmd: list[str], env: dict[str, str], cwd: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stderr.readline()
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # drain
            return proc, m.group(1)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit(f"could not start {cmd}")


def _body(i: int) -> bytes:
    return urlencode({
        "token": "x", "team_id": "T0RELBOT", "team_domain": "relbot", "channel_id": "C0RELEASES",
        "channel_name": "releases", "user_id": "U0ALICE", "user_name": "alice",
        "command": "/release", "text": "help", "api_app_id": "A0RELBOT",
        "response_url": "http://127.0.0.1:9/response/x", "trigger_id": f"{i}.trigger",
    }).encode()


def _signed(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {"Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + mac.hexdigest()}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(url: str, n: int, c: int, warmup: int = 50) -> list[float]:
    """Send ``n`` signed requests over ``c`` keep-alive connections; latencies in ms."""
    u = urlparse(url)
    lat: list[float] = []
    lock = threading.Lock()
    counter = iter(range(n + warmup))
    errors: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        mine: list[float] = []
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            body = _body(i)
            headers = _signed(body)
            t0 = time.perf_counter()
            conn.request("POST", u.path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            dt = (time.perf_counter() - t0) * 1000
            if resp.status != 200:
                errors.append(f"HTTP {resp.status}")
            if i >= warmup:
                mine.append(dt)
        conn.close()
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(c)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"{len(errors)} failed requests, e.g. {errors[0]}")
    return lat


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def report(results: dict[str, list[float]], wall: dict[str, float], cpu: dict[str, float],
           args: argparse.Namespace) -> None:
    """Latency, throughput and CPU per request of each server, and the ratios to the floors."""
    print(f"N={args.n} C={args.c} relbot --threads {args.threads or 'default'} "
          f"(cpus: {os.cpu_count()}, python {sys.version.split()[0]})")
    print(f"{'':10}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'req/s':>8}{'CPU ms/req':>12}")
    rate = {k: len(v) / wall[k] for k, v in results.items()}
    per = {k: cpu[k] / len(results[k]) * 1000 for k in cpu}
    for name, xs in results.items():
        print(f"{name:10}{pct(xs, 50):9.2f}{pct(xs, 99):9.2f}{statistics.mean(xs):9.2f}"
              f"{rate[name]:8.0f}{per[name]:12.3f}")
    for floor in ("bare", "bare-pbr"):
        thr = rate["relbot"] / rate[floor]
        print(f"relbot/{floor:8} throughput {thr:.2f}x, CPU per request "
              f"{per['relbot'] - per[floor]:+.3f} ms")
    thr = rate["relbot"] / rate["bare"]
    verdict = ("MET" if thr >= 0.8 else "MISSED") if args.c >= 32 else "(measured at C=32)"
    print(f"throughput target >= 0.8x of bare at C=32: {verdict}")
    r50 = pct(results["relbot"], 50) / pct(results["bare"], 50)
    r99 = pct(results["relbot"], 99) / pct(results["bare"], 99)
    ok = r50 <= 1.3 and pct(results["relbot"], 99) < 100
    print(f"ratio   p50 {r50:.2f}  p99 {r99:.2f}   target p50 ratio <= 1.3 and relbot p99 < "
          f"100 ms: {'MET' if ok else 'MISSED'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=2000, help="requests per server")
    ap.add_argument("-c", type=int, default=8, help="concurrent connections")
    ap.add_argument("--threads", type=int, default=None,
                    help="relbot run --threads (waitress worker threads; default: relbot's)")
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT))
    from bot.standin.webapi import FakeSlackAPI
    from bot.wsgi import ServerLimits

    limits = ServerLimits(**({"threads": args.threads} if args.threads else {}))
    bare_cmd = [sys.executable, str(ROOT / "bench" / "bare.py"),
                json.dumps(dataclasses.asdict(limits))]

    api = FakeSlackAPI().start()
    tmp = tempfile.TemporaryDirectory(prefix="relbot-bench-")
    cfg = Path(tmp.name) / "relbot.yml"
    cfg.write_text(CONFIG)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SLACK_BOT_TOKEN": "xoxb-bench-0000",
           "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": api.url,
           "RELBOT_LOG_LEVEL": "WARNING"}
    env.pop("SLACK_APP_TOKEN", None)
    relbot, relbot_url = _start(
        [sys.executable, "-m", "bot", "run", "--http", "--port", "0", "--config", str(cfg),
         "--db", str(Path(tmp.name) / "relbot.db"),
         *(["--threads", str(args.threads)] if args.threads else [])], env, tmp.name)
    bare, bare_url = _start(bare_cmd, env, tmp.name)
    pbr, pbr_url = _start([*bare_cmd, "--pbr"], env, tmp.name)
    names = ("bare", "bare-pbr", "relbot")
    urls = {"bare": bare_url, "bare-pbr": pbr_url, "relbot": relbot_url}
    try:
        results: dict[str, list[float]] = {}
        wall = dict.fromkeys(names, 0.0)
        cpu = dict.fromkeys(names, 0.0)
        pids = {"bare": bare.pid, "bare-pbr": pbr.pid, "relbot": relbot.pid}
        # interleave two rounds each so machine noise hits all alike
        for name in names + names:
            url = urls[name]
            drive(url, 0, 1)  # warm-up requests only (not timed)
            c0, t0 = cpu_seconds(pids[name]), time.perf_counter()
            results.setdefault(name, []).extend(drive(url, args.n // 2, args.c, warmup=0))
            wall[name] += time.perf_counter() - t0
            cpu[name] += cpu_seconds(pids[name]) - c0
    finally:
        for p in (relbot, bare, pbr):
            p.terminate()
            p.wait(30)
        api.stop()
        tmp.cleanup()
    report(results, wall, cpu, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
