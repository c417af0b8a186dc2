"""The audit log as the config sets it up (``audit.key``, ``audit.checkpoints``): the one way
the bot and the CLI commands that append open it, so no entry is written unkeyed into a
keyed chain."""

from __future__ import annotations

from typing import Any

from bot.clock import Clock
from storage.audit import AuditLog, CheckpointPolicy
from storage.checkpoints import CheckpointFile
from storage.db import Database


def open_audit(db: Database, clock: Clock, config: Any) -> AuditLog:
    """The audit log with the config's key and checkpoint sink; ``config`` is a
    :class:`bot.config.ConfigHolder` (reloads followed) or anything with ``.current``.
    Raises :class:`bot.errors.RelbotError` when ``audit.key`` names an unset variable."""
    cfg = config.current
    key = cfg.audit.resolve_key()
    cp = cfg.audit.checkpoints
    policy = CheckpointPolicy(CheckpointFile(cfg.resolve_path(cp.file), key), cp.every,
                              cp.interval) if cp is not None else None
    return AuditLog(db, clock, secrets=lambda: config.current.secrets, key=key,
                    checkpoints=policy)
