"""Config sections for secrets and the audit log: ``secrets:`` and ``audit:``."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

from pydantic import Field, PrivateAttr, field_validator, model_validator

from bot.configbase import Duration, Strict
from bot.errors import RelbotError
from bot.redact import Redactor

MIN_KEY_BYTES = 16


class SecretsConfig(Strict):
    """``secrets:`` -- a list of values (the old shape) or ``{values: [...], patterns: [...]}``.

    ``values`` are literal strings or ``env:NAME``; ``patterns`` are regular expressions of
    project-specific secret shapes. :attr:`redactor` is compiled once per loaded config.
    """

    values: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    _redactor: Redactor | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _list_shape(cls, v: Any) -> Any:
        return {"values": v} if isinstance(v, list | tuple) else v

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for i, p in enumerate(v):
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"patterns[{i}] {p!r} is not a regular expression: {exc}"
                                 ) from None
            if re.fullmatch(p, ""):
                raise ValueError(f"patterns[{i}] {p!r} matches the empty string")
        return v

    @property
    def redactor(self) -> Redactor:
        if self._redactor is None:
            self._redactor = Redactor(self.values, self.patterns)
        return self._redactor


class CheckpointConfig(Strict):
    """``audit.checkpoints``: where and how often signed checkpoints are written."""

    file: str
    every: int = Field(100, ge=1)
    interval: Duration = timedelta(minutes=10)
    channel: str | None = Field(None, pattern=r"^[CGD][A-Z0-9]{2,}$")


class AuditConfig(Strict):
    """``audit:`` -- ``key: env:NAME`` makes the chain an HMAC chain; ``checkpoints``."""

    key: str | None = None
    checkpoints: CheckpointConfig | None = None

    @field_validator("key")
    @classmethod
    def _env_only(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"env:[A-Za-z_][A-Za-z0-9_]*", v):
            raise ValueError("must be env:NAME (the key itself belongs in the environment, "
                             "not in the config file)")
        return v

    def resolve_key(self) -> bytes | None:
        """The key's bytes from the environment; a clear error when it is unset or short."""
        if self.key is None:
            return None
        name = self.key[4:]
        value = os.environ.get(name, "")
        if not value:
            raise RelbotError(f"audit.key names {name}, which is not set")
        if len(value.encode()) < MIN_KEY_BYTES:
            raise RelbotError(f"audit.key: {name} is shorter than {MIN_KEY_BYTES} bytes")
        return value.encode()
