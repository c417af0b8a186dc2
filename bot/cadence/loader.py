"""Resolve the effective calendar (inline or ``file:``) with the root timezone as default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot import safeyaml
from bot.cadence.config import CalendarConfig
from bot.errors import ConfigError, ConfigIssue


def effective(config: Any) -> CalendarConfig | None:
    """The calendar for ``config`` (loading ``calendar.file`` if set), or None."""
    cal: CalendarConfig | None = getattr(config, "calendar", None)
    if cal is None:
        return None
    if cal.file:
        cal = _load_file(config.resolve_path(cal.file), getattr(config, "timezone", "UTC"))
    if cal.timezone is None:
        cal = cal.model_copy(update={"timezone": getattr(config, "timezone", "UTC")})
    if cal.cycle_start is None:
        raise ConfigError([ConfigIssue(str(config.source or "config"), None, "calendar.cycle_start",
                                       "required (a Monday, e.g. 2026-01-05)")])
    return cal


_CACHE: dict[str, tuple[tuple[int, int, str], CalendarConfig]] = {}


def _load_file(path: Path, tz: str) -> CalendarConfig:
    """``calendar.file`` parsed and validated once per version of the file (mtime and size;
    ``tz`` is the default timezone); an edit is picked up at the next use."""
    try:
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size, tz)
        hit = _CACHE.get(str(path))
        if hit is not None and hit[0] == stamp:
            return hit[1]
        text = path.read_text()
    except OSError as exc:
        raise ConfigError([ConfigIssue(str(path), None, "calendar.file",
                                       f"cannot read: {exc}")]) from None
    cal = load_calendar_text(text, str(path))
    if cal.timezone is None:
        cal = cal.model_copy(update={"timezone": tz})
    _CACHE[str(path)] = (stamp, cal)
    return cal


def load_calendar_text(text: str, filename: str) -> CalendarConfig:
    """Parse a separate calendar YAML; errors read ``file:line: key: message``."""
    try:
        node = safeyaml.compose(text)
        data = safeyaml.construct(node) or {}
    except safeyaml.YAMLLimitError as exc:
        raise ConfigError([ConfigIssue(filename, exc.line, "", exc.problem)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(filename, None, "", str(exc))]) from None
    if isinstance(data, dict) and set(data) == {"calendar"}:
        data, node = data["calendar"], node.value[0][1]
    lines = _lines(node)
    try:
        cal = CalendarConfig.model_validate(data)
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            while loc and loc not in lines:
                loc = loc[:-1]
            line = lines.get(loc, 1)
            key = ".".join(str(p) for p in err["loc"]) or "calendar"
            msgs.append(ConfigIssue(filename, line, key,
                                    err["msg"].removeprefix("Value error, ")))
        raise ConfigError(msgs) from None
    if cal.file:
        raise ConfigError([ConfigIssue(filename, 1, "file",
                                       "a calendar file cannot point to another file")])
    return cal


def _lines(node: Any, path: tuple = (), out: dict | None = None) -> dict:
    out = {} if out is None else out
    if node is None:
        return out
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            out[path + (k.value,)] = k.start_mark.line + 1
            _lines(v, path + (k.value,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _lines(v, path + (i,), out)
    return out
