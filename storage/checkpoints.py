"""Signed audit checkpoints kept outside the database (a file, e.g. on another volume).

A checkpoint is ``(seq, head hash, time)`` signed with HMAC-SHA256 under the audit key.
Someone who can rewrite the database but not this file (or not sign without the key)
cannot truncate, empty or recompute the chain unnoticed: ``relbot audit verify`` compares
the chain with the newest checkpoint whose signature holds. One JSON object per line,
appended and fsynced; unreadable or badly signed lines are skipped, never trusted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    head: str
    ts: str
    mac: str

    def line(self) -> str:
        return json.dumps({"seq": self.seq, "head": self.head, "ts": self.ts, "mac": self.mac},
                          sort_keys=True)


def sign(key: bytes | None, seq: int, head: str, ts: str) -> str:
    """HMAC-SHA256 over the checkpoint under ``key`` (plain SHA-256 without one: that only
    catches a damaged file, not a forged one)."""
    body = f"relbot-checkpoint:{seq}:{head}:{ts}".encode()
    if key:
        return "hmac-sha256:" + hmac.new(key, body, hashlib.sha256).hexdigest()
    return "sha256:" + hashlib.sha256(body).hexdigest()


def make(key: bytes | None, seq: int, head: str, ts: str) -> Checkpoint:
    return Checkpoint(seq, head, ts, sign(key, seq, head, ts))


def valid(key: bytes | None, cp: Checkpoint) -> bool:
    """Does the signature hold (under ``key``; an unkeyed checkpoint never does with a key)?"""
    return hmac.compare_digest(sign(key, cp.seq, cp.head, cp.ts), cp.mac)


class CheckpointFile:
    """Append-only file of checkpoints; :meth:`latest` is the newest validly signed one."""

    def __init__(self, path: str | Path, key: bytes | None = None) -> None:
        self.path = Path(path)
        self.key = key

    def write(self, cp: Checkpoint) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(cp.line() + "\n")
            f.flush()
            os.fsync(f.fileno())

    def latest(self) -> Checkpoint | None:
        """The newest checkpoint that parses and whose signature holds (None: none readable)."""
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return None
        best: Checkpoint | None = None
        for ln in lines:
            cp = _parse(ln)
            if cp is not None and valid(self.key, cp) and (best is None or cp.seq >= best.seq):
                best = cp
        return best


def _parse(line: str) -> Checkpoint | None:
    try:
        d = json.loads(line)
        cp = Checkpoint(int(d["seq"]), str(d["head"]), str(d["ts"]), str(d["mac"]))
    except (ValueError, KeyError, TypeError):
        return None
    return cp if cp.seq >= 0 else None
