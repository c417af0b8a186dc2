"""Scrubbing a posted message: relbot's compiled matcher (built once per config) beside a
floor (a plain deep copy of the same blocks) and the previous per-string approach (read the
environment, sort the secrets, ``str.replace`` each, for every string).

    python bench/scrub.py [-n 300]
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import parse_config  # noqa: E402
from bot.redact import scrub  # noqa: E402

CONFIG = """\
channel: C0RELEASES
secrets:
  values: [hunter2-secret-value, env:DEPLOY_TOKEN, s3cr3t-one, s3cr3t-two, s3cr3t-three]
  patterns: ['acme_[a-z0-9]{20}', 'tok_[A-Z0-9]{16}', 'key-[0-9a-f]{32}']
"""
_TOKEN = re.compile(r"\b(xox[abposr]|xapp)-[A-Za-z0-9-]{6,}")


def _old_text(text: str, extra: list[str]) -> str:
    vals = [os.environ.get(k, "") for k in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET",
                                             "SLACK_APP_TOKEN")]
    vals += [os.environ.get(e[4:], "") if e.startswith("env:") else e for e in extra]
    for v in sorted({v for v in vals if v and len(v) >= 4}, key=len, reverse=True):
        text = text.replace(v, "[REDACTED]")
    return _TOKEN.sub("[REDACTED]", text)


def _old(obj: object, extra: list[str]) -> object:
    if isinstance(obj, dict):
        return {k: _old(v, extra) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_old(v, extra) for v in obj]
    return _old_text(obj, extra) if isinstance(obj, str) else obj


def blocks() -> list[dict]:
    """A dry-run sized message: 40 sections of file lines with a few URLs."""
    line = "M config/app-%d.yml +12 -3  https://git.example/org/repo/blob/main/app.yml"
    return [{"type": "section", "block_id": f"b{i}",
             "text": {"type": "mrkdwn", "text": "\n".join(line % (i * 10 + j) for j in range(5))}}
            for i in range(40)]


def timed(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1000


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=300)
    n = p.parse_args().n
    os.environ.setdefault("DEPLOY_TOKEN", "deploy-token-value-123")
    cfg = parse_config(CONFIG)
    b = blocks()
    scrub(b, cfg.secrets)  # the matcher is compiled at the first use of this config
    values = list(cfg.secrets.values)
    floor = timed(lambda: copy.deepcopy(b), n)
    relbot = timed(lambda: scrub(b, cfg.secrets), n)
    before = timed(lambda: _old(b, values), n)
    print(f"scrub one 40-block message, n={n} (python {sys.version.split()[0]})")
    for name, ms in (("floor  (deepcopy)", floor), ("relbot (compiled once per config)", relbot),
                     ("before (env + sort + replace/string)", before)):
        print(f"  {name:38} {ms:8.3f} ms   {ms / floor:5.2f}x floor")


if __name__ == "__main__":
    main()
