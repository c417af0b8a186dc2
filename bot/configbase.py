"""Shared pieces for config models: the strict frozen base and common field types.

Feature sections (``bot/<feature>/config.py``) build on these; ``bot/config.py`` puts
them together under the root model.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator


class Strict(BaseModel):
    """Base for every config model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$")
_UNIT = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """``90`` (seconds), ``"30m"``, ``"24h"``, ``"1d"``, ``"2w"`` -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("must be a duration like 30s, 15m, 24h or 1d")
    if isinstance(value, int | float):
        return _seconds(value, value)
    m = _DUR.match(str(value))
    if not m:
        raise ValueError(f"must be a duration like 30s, 15m, 24h or 1d, not {value!r}")
    return _seconds(float(m.group(1)) * _UNIT[m.group(2)], value)


def _seconds(n: float, value: Any) -> timedelta:
    try:
        return timedelta(seconds=n)
    except (OverflowError, ValueError):  # beyond timedelta's ~2.7 million years, or NaN
        raise ValueError(f"must be a duration like 30s, 15m, 24h or 1d, not {value!r} "
                         "(out of range)") from None


def check_timezone(value: str) -> str:
    """An IANA timezone name (``Europe/Berlin``); the error names the bad value."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA timezone {value!r}") from None
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda d: f"{int(d.total_seconds())}s", return_type=str),
]

_PRINCIPAL = re.compile(r"^(?:[UW][A-Z0-9]{2,}|@[a-z0-9][a-z0-9._-]*)$")


def _principal(value: Any) -> str:
    s = str(value).strip()
    if not _PRINCIPAL.match(s):
        raise ValueError(
            f"{s!r} is neither a Slack user ID (U0ALICE) nor a user group handle"
            " (@release-managers)"
        )
    return s


Principal = Annotated[str, BeforeValidator(_principal)]
"""A Slack user ID (``U0ALICE``) or a user-group handle (``@release-managers``)."""


class ApprovalPolicy(Strict):
    """Global approval rules (``approval:``); sections may override single fields."""

    reactions: tuple[str, ...] = ("white_check_mark", "+1")
    quorum: int = Field(2, ge=1)
    allow_self_approval: bool = False
    expires: Duration = timedelta(hours=24)

    @field_validator("reactions", mode="before")
    @classmethod
    def _strip_colons(cls, v: Any) -> Any:
        if isinstance(v, list | tuple):
            return tuple(str(x).strip(":") for x in v)
        return v

    def merged(self, override: ApprovalOverride | None) -> ApprovalPolicy:
        """This policy with the fields set in ``override`` replaced."""
        if override is None:
            return self
        # Copy attribute values, not a dump: a dump would turn Durations back into strings.
        changes = {k: getattr(override, k) for k in override.model_fields_set
                   if k != "approvers" and getattr(override, k) is not None}
        return self.model_copy(update=changes)


class ApprovalOverride(Strict):
    """Per-sync / per-rollback override of the approval policy (all fields optional)."""

    reactions: tuple[str, ...] | None = None
    quorum: int | None = Field(None, ge=1)
    allow_self_approval: bool | None = None
    expires: Duration | None = None
    approvers: tuple[Principal, ...] | None = None
