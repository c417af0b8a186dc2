"""Peak memory of `relbot audit export` (JSONL and YAML) beside a floor: a bare Python process
that only reads every row of the same table. Bounded: a temporary database, local only.

    python bench/audit_export.py -n 200000          # the issue's figure used -n 1000000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.audit import GENESIS, SHA256, AuditLog, canonical, entry_hash  # noqa: E402
from storage.db import Database  # noqa: E402

FLOOR = ("import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\n"
         "for r in c.execute('SELECT * FROM audit_log ORDER BY seq'): pass\n")


def build(db_path: Path, n: int) -> None:
    """``n`` chained entries written in bulk (one transaction; same hashing as append)."""
    db = Database(db_path)
    AuditLog(db)
    prev, rows = GENESIS, []
    c = db.conn()
    c.execute("BEGIN")
    for seq in range(1, n + 1):
        ts = f"2026-11-{1 + seq % 28:02d}T09:{seq % 60:02d}:00Z"
        payload = canonical({"text": f"/release help {seq}", "channel": "C0RELEASES",
                             "digest": "d" * 64})
        h = entry_hash(seq, ts, "U0ALICE", "command", "/release", payload, prev)
        rows.append((seq, ts, "U0ALICE", "command", "/release", payload, prev, h, SHA256))
        prev = h
        if len(rows) == 10000:
            c.executemany("INSERT INTO audit_log VALUES (?,?,?,?,?,?,?,?,?)", rows)
            rows.clear()
    c.executemany("INSERT INTO audit_log VALUES (?,?,?,?,?,?,?,?,?)", rows)
    c.execute("COMMIT")
    db.close()


def measure(argv: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS MiB, bytes written) of one child process (its own rusage)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        size = out.tell()
    secs = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{argv} exited {proc.returncode}")
    return secs, usage.ru_maxrss / 1024, size


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=200_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "audit.db"
        t0 = time.perf_counter()
        build(db, args.n)
        print(f"built {args.n} entries in {time.perf_counter() - t0:.1f} s "
              f"({db.stat().st_size / 2**20:.0f} MiB database)")
        floor = measure([sys.executable, "-c", FLOOR, str(db)])
        print(f"{'':22}{'seconds':>9}{'peak RSS MiB':>14}{'output MiB':>12}")
        print(f"{'floor (read rows)':22}{floor[0]:9.2f}{floor[1]:14.1f}{0:12.0f}")
        for fmt in ("jsonl", "yaml"):
            secs, rss, size = measure([sys.executable, "-m", "bot", "audit", "export", "--db",
                                       str(db), "--format", fmt])
            print(f"{'relbot ' + fmt:22}{secs:9.2f}{rss:14.1f}{size / 2**20:12.0f}")
        print("target: peak RSS <= 100 MiB for both formats (the floor is the Python "
              "interpreter plus sqlite3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
