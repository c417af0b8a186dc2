"""Votes per second and ack p99: one relbot on SQLite, 1 and 3 replicas on PostgreSQL.

    RELBOT_BENCH_DATABASE_URL=postgresql://root@127.0.0.1:5432/test \\
        python bench/replicas.py [-n 300] [-c 6]

Each setup runs real ``relbot run --http`` processes against the built-in stand-in Web API:
one on a fresh SQLite file, then 1 and then 3 replicas on a fresh PostgreSQL schema (created
in the database of ``RELBOT_BENCH_DATABASE_URL``, dropped after). A small ``/sync plan`` is
posted (not timed) with the quorum out of reach, then ``-n`` signed ``reaction_added`` /
``reaction_removed`` events by 20 approvers are sent from ``-c`` client threads, spread round
robin over the replicas. Figures: votes/s = N / time until the last vote was processed (the
audit log stops growing: each vote is counted, revoked or refused after its ack, in one
chain), and the HTTP ack latency p50/p99. The floor, measured in the same
run: a bare Bolt app that only acks the same events (no database at all).
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ack import pct  # noqa: E402
from vote import BARE, SECRET, VOTERS, start  # noqa: E402


def _schema(base: str) -> tuple[str, str]:
    import psycopg

    name = f"relbot_bench_{secrets.token_hex(3)}"
    with psycopg.connect(base, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{name}"')
    sep = "&" if "?" in base else "?"
    return name, f"{base}{sep}options=-csearch_path%3D{name}"


def _drop(base: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as c:
        c.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _drive(senders: list, plan: object, n: int, c: int) -> tuple[list[float], float]:
    """``n`` vote events from ``c`` threads, round robin over ``senders``; latencies (ms)."""
    lat: list[float] = []
    lock = threading.Lock()
    todo = iter(range(n))

    def worker() -> None:
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            user = VOTERS[i % len(VOTERS)]
            removed = (i // len(VOTERS)) % 2 == 1
            t0 = time.perf_counter()
            r = senders[i % len(senders)].react(user, plan, "white_check_mark", removed=removed)
            ms = (time.perf_counter() - t0) * 1000
            assert r.status == 200, r
            with lock:
                lat.append(ms)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(c)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat, t0


def _audit_count(db: str) -> int:
    from storage.audit import AuditLog
    from storage.db import Database

    d = Database(db)
    try:
        return AuditLog(d, migrate=False).count()
    finally:
        d.close()


def _settled(db: str, t0: float, quiet: float = 1.0, limit: float = 300) -> float:
    """Seconds from ``t0`` until the audit log last grew (it then stayed still ``quiet`` s):
    every vote is processed after its ack, so this is when the last one was done."""
    last, changed = _audit_count(db), time.perf_counter()
    while time.perf_counter() - changed < quiet:
        if time.perf_counter() - t0 > limit:
            raise SystemExit("the audit log kept growing")
        time.sleep(0.05)
        n = _audit_count(db)
        if n != last:
            last, changed = n, time.perf_counter()
    return changed - t0


def run_setup(tmp: Path, env: dict, api: object, db: str, replicas: int, n: int, c: int
              ) -> tuple[float, float, float]:
    from bot.standin.dispatcher import SlackSender

    subprocess.run([sys.executable, "-m", "bot", "db", "migrate", "--db", db], env=env,
                   cwd=tmp, check=True, capture_output=True)
    procs = [start([sys.executable, "-m", "bot", "run", "--http", "--port", "0", "--config",
                    str(tmp / "relbot.yml"), "--db", db],
                   {**env, "RELBOT_DATA_DIR": str(tmp / f"data{i}")}, str(tmp))
             for i in range(replicas)]
    try:
        senders = [SlackSender(url, SECRET, api) for _, url in procs]
        before = {m.ts for m in api.state.messages}  # type: ignore[attr-defined]
        senders[0].command("U0ALICE", "/sync plan docs")
        deadline = time.time() + 120
        plan = None
        while plan is None:
            plan = next((m for m in api.state.messages  # type: ignore[attr-defined]
                         if m.text.startswith("Dry-run DR-") and m.ts not in before), None)
            if time.time() > deadline:
                raise SystemExit("no dry-run posted")
            time.sleep(0.05)
        time.sleep(0.5)
        lat, t0 = _drive(senders, plan, n, c)
        rate = n / _settled(db, t0)
    finally:
        for p, _ in procs:
            p.terminate()
            p.wait(30)
    return rate, pct(lat, 50), pct(lat, 99)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=300, help="vote events per setup")
    ap.add_argument("-c", type=int, default=6, help="client threads")
    args = ap.parse_args()
    base = os.environ.get("RELBOT_BENCH_DATABASE_URL") or os.environ.get(
        "RELBOT_TEST_DATABASE_URL")
    if not base:
        raise SystemExit("set RELBOT_BENCH_DATABASE_URL=postgresql://... (a database to "
                         "create a throwaway schema in)")
    from bot.standin.dispatcher import SlackSender
    from bot.standin.webapi import FakeSlackAPI

    api = FakeSlackAPI().start()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SLACK_BOT_TOKEN": "xoxb-bench-0000",
           "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": api.url,
           "RELBOT_LOG_LEVEL": "WARNING"}
    for k in ("SLACK_APP_TOKEN", "RELBOT_DATABASE_URL", "RELBOT_DB"):
        env.pop(k, None)
    rows = []
    with tempfile.TemporaryDirectory(prefix="relbot-bench-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "s").mkdir()
        (tmp / "t").mkdir()
        (tmp / "s" / "a.txt").write_text("new\n")
        (tmp / "relbot.yml").write_text(
            f"channel: C0RELEASES\napprovers: [{', '.join(VOTERS)}]\n"
            "approval: {quorum: 1000}\nsyncs:\n"
            f"  - {{name: docs, type: cross-repo, source: {{repo: {tmp / 's'}}},"
            f" target: {{repo: {tmp / 't'}}}}}\n")
        bare, burl = start([sys.executable, "-c", BARE], env, tmp_name)
        try:
            ts = api.handle("chat.postMessage", {"channel": "C0RELEASES", "text": "bench"})["ts"]
            target = api.state.by_ts("C0RELEASES", ts)
            lat, t0 = _drive([SlackSender(burl, SECRET, api)], target, args.n, args.c)
            rows.append(("bare Bolt (ack only)", args.n / (time.perf_counter() - t0),
                         pct(lat, 50), pct(lat, 99)))
        finally:
            bare.terminate()
            bare.wait(30)
        rows.append(("SQLite, 1 process", *run_setup(
            tmp, env, api, f"sqlite:///{tmp / 'r.db'}", 1, args.n, args.c)))
        for k in (1, 3):
            name, url = _schema(base)
            try:
                rows.append((f"PostgreSQL, {k} replica{'s' if k > 1 else ''}", *run_setup(
                    tmp, env, api, url, k, args.n, args.c)))
            finally:
                _drop(base, name)
    api.stop()
    print(f"N={args.n} votes C={args.c} client threads (cpus: {os.cpu_count()}, "
          f"python {sys.version.split()[0]})")
    print(f"{'setup':28} {'votes/s':>9} {'ack p50 ms':>11} {'ack p99 ms':>11}")
    for name, rate, p50, p99 in rows:
        print(f"{name:28} {rate:9.1f} {p50:11.2f} {p99:11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
