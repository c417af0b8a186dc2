"""Finding a rollback, and what the config says about rollbacks (read-only helpers)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import NotFound, Refused, UsageError
from bot.rollback.config import ProductRollback, RollbackConfig
from storage.rollback import RollbackRow, RollbackStore, parse_id

if TYPE_CHECKING:
    from bot.services import Services


def store(svc: Services) -> RollbackStore:
    """The rollback store (``svc.rollbacks``)."""
    return svc.rollbacks


def fresh(svc: Services, row: RollbackRow) -> RollbackRow:
    """``row`` as it is stored now."""
    return svc.rollbacks.get(row.num) or row


def config(svc: Services) -> RollbackConfig:
    """The ``rollback:`` config (Refused when the section is missing)."""
    cfg = svc.config.current.rollback
    if cfg is None:
        raise Refused("rollbacks are not configured: add a `rollback:` section to relbot.yml")
    return cfg


def product_cfg(svc: Services, name: str) -> ProductRollback:
    """How to roll product ``name`` back (NotFound naming the known products)."""
    p = config(svc).products.get(name)
    if p is None:
        known = ", ".join(config(svc).products) or "none configured"
        raise NotFound("rollback product", name, f"known: {known}")
    return p


def find(svc: Services, text: str | None) -> RollbackRow:
    """A rollback by ID (``RB-0001``); :class:`UsageError`/:class:`NotFound` otherwise."""
    num = parse_id(text or "")
    if num is None:
        raise UsageError("give the rollback ID (RB-0001); `/rollback list` shows recent ones")
    row = store(svc).get(num)
    if row is None:
        raise NotFound("rollback", text or "", "`/rollback list` or `relbot rollback list` "
                                               "shows recent ones")
    return row


def local_time(svc: Services, when: str | None) -> str:
    """An ISO UTC time as people in the config's timezone read it: ``2026-11-24 22:00 CET``."""
    if not when:
        return ""
    dt = datetime.fromisoformat(when)
    return dt.astimezone(svc.config.current.tz).strftime("%Y-%m-%d %H:%M %Z")


def workdir(svc: Services) -> Path:
    """Where rollback commands run: the config file's directory."""
    return svc.config.current.base_dir
