"""``relbot.yml``: raw YAML -> pydantic (``extra="forbid"``) -> frozen validated model.

Errors come back as :class:`bot.errors.ConfigError` listing every problem as
``file:line: key.path: message``; unknown keys get a did-you-mean.
"""

from __future__ import annotations

import difflib
import re
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot import safeyaml
from bot.cadence.config import CalendarConfig
from bot.configbase import ApprovalPolicy, Duration, Principal, Strict, check_timezone
from bot.errors import ConfigError, ConfigIssue
from bot.integrations.config import token_refs
from bot.release.config import ReleasesConfig
from bot.rollback.config import RollbackConfig
from bot.securityconfig import AuditConfig, SecretsConfig
from bot.sync.config import SyncDef


class Permissions(Strict):
    """Who may run each command; ``None`` (omitted) means anyone."""

    release: tuple[Principal, ...] | None = None
    sync: tuple[Principal, ...] | None = None
    rollback: tuple[Principal, ...] | None = None


class Config(Strict):
    channel: str = Field(pattern=r"^[CGD][A-Z0-9]{2,}$")
    timezone: str = "UTC"
    approvers: tuple[Principal, ...] = ()
    approval: ApprovalPolicy = ApprovalPolicy()
    permissions: Permissions = Permissions()
    usergroup_cache_ttl: Duration = timedelta(minutes=5)
    secrets: SecretsConfig = SecretsConfig()
    """Extra secret values (or ``env:NAME``) and patterns scrubbed from every output."""
    audit: AuditConfig = AuditConfig()
    syncs: tuple[SyncDef, ...] = ()
    releases: ReleasesConfig | None = None
    calendar: CalendarConfig | None = None
    rollback: RollbackConfig | None = None
    database: str | None = None
    """``sqlite:///relbot.db`` (relative to this file) or ``postgresql://user@host/db``."""

    _source: Path | None = PrivateAttr(default=None)

    @field_validator("database")
    @classmethod
    def _database_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("sqlite://", "postgresql://", "postgres://")):
            raise ValueError(f"{v!r} is not a database URL: use sqlite:///relbot.db or "
                             "postgresql://user@host:5432/dbname")
        return v

    @model_validator(mode="before")
    @classmethod
    def _integration_secrets(cls, data: Any) -> Any:
        """Tokens and routing keys (``env:NAME``) are scrubbed like ``secrets``."""
        refs = token_refs(data)
        if not refs or not isinstance(data, dict):
            return data
        sec = data.get("secrets") or ()
        if isinstance(sec, list | tuple):
            return {**data, "secrets": [*sec, *(r for r in refs if r not in sec)]}
        vals = sec.get("values") or () if isinstance(sec, dict) else None
        if isinstance(vals, list | tuple):
            more = [*vals, *(r for r in refs if r not in vals)]
            return {**data, "secrets": {**sec, "values": more}}
        return data  # an invalid secrets: is reported by its own validation

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return check_timezone(v)

    @field_validator("syncs")
    @classmethod
    def _unique_syncs(cls, v: tuple[SyncDef, ...]) -> tuple[SyncDef, ...]:
        seen: set[str] = set()
        for s in v:
            if s.name in seen:
                raise ValueError(f"duplicate sync name {s.name!r}: names must be unique")
            seen.add(s.name)
        return v

    @model_validator(mode="after")
    def _rollback_syncs_exist(self) -> Config:
        names = {s.name for s in self.syncs}
        for product, p in (self.rollback.products.items() if self.rollback else ()):
            if p.config_sync and p.config_sync not in names:
                known = ", ".join(sorted(names)) or "none"
                raise ValueError(f"rollback.products.{product}.config_sync: no sync named "
                                 f"{p.config_sync!r} in syncs ({known})")
        return self

    @field_validator("rollback")
    @classmethod
    def _rollback_has_permissions(cls, v: RollbackConfig | None,
                                  info: ValidationInfo) -> RollbackConfig | None:
        perms = info.data.get("permissions")
        if v is not None and perms is not None and perms.rollback is None:
            raise ValueError("permissions.rollback is not set: list who may start a rollback "
                             "(user IDs or @groups, e.g. [\"@oncall\"])")
        return v

    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def base_dir(self) -> Path:
        """Directory relative paths in the config are resolved against."""
        return self._source.parent if self._source else Path.cwd()

    def resolve_path(self, p: str | Path) -> Path:
        """Resolve a path from the config relative to the config file."""
        path = Path(p).expanduser()
        return path if path.is_absolute() else (self.base_dir / path)

    def database_target(self) -> str | None:
        """``database:`` with a relative SQLite path resolved against the config file."""
        if self.database and self.database.startswith("sqlite:///"):
            path = self.database[len("sqlite:///"):]
            return f"sqlite:///{self.resolve_path(path)}" if path else self.database
        return self.database

    def sync(self, name: str) -> SyncDef | None:
        return next((s for s in self.syncs if s.name == name), None)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# --- loading with line numbers ---------------------------------------------------------

def _index_lines(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict:
    """Map key paths (tuples of str/int) to 1-based line numbers from a composed YAML node."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = path + (k.value,)
            out[key] = k.start_mark.line + 1
            _index_lines(v, key, out)
            out[key] = k.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _index_lines(v, path + (i,), out)
    return out


def _fmt_path(loc: tuple) -> str:
    s = ""
    for part in loc:
        s += f"[{part}]" if isinstance(part, int) else (f".{part}" if s else str(part))
    return s


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class that owns the last key of ``loc`` (for did-you-mean)."""
    import typing

    cur: Any = model
    key_next = False  # the previous field was a mapping: this part is one of its keys
    for part in loc[:-1]:
        if isinstance(part, int) or key_next:
            key_next = False
            continue
        if not (isinstance(cur, type) and issubclass(cur, BaseModel)):
            return None
        field = cur.model_fields.get(part)
        if field is None:
            return None
        cur = field.annotation
        for _ in range(4):  # unwrap Optional / tuple / list / dict
            if typing.get_origin(cur) is dict:
                key_next = True
            args = [a for a in typing.get_args(cur) if a is not type(None) and a is not Ellipsis]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            if isinstance(cur, type) and issubclass(cur, BaseModel):
                break
            if models:
                cur = models[0]
                break
            if not args:
                break
            cur = args[-1]
    return cur if isinstance(cur, type) and issubclass(cur, BaseModel) else None


def _message(err: dict, model: type[BaseModel]) -> str:
    typ, loc, ctx = err["type"], err["loc"], err.get("ctx") or {}
    if typ == "extra_forbidden":
        owner = _model_at(model, loc)
        known = list(owner.model_fields) if owner else []
        guess = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else (
            f" (known keys: {', '.join(known)})" if known else "")
        return f"unknown key {loc[-1]!r}{hint}"
    if typ == "literal_error":
        expected = ctx.get("expected", "")
        opts = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",")]
        return f"must be one of {', '.join(o for o in opts if o)}"
    if typ == "missing":
        return "is required"
    msg = err["msg"]
    return msg.removeprefix("Value error, ")


def parse_config(text: str, filename: str = "relbot.yml") -> Config:
    """Parse and validate config text; raises :class:`ConfigError` naming file and line."""
    try:
        node = safeyaml.compose(text)
        data = safeyaml.construct(node)
    except safeyaml.YAMLLimitError as exc:
        raise ConfigError([ConfigIssue(filename, exc.line, "", exc.problem)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigIssue(filename, line, "", f"invalid YAML: {problem}")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(filename, 1, "", "the top level must be a mapping")])
    lines = _index_lines(node) if node is not None else {}
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        issues = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p
                                                      and p not in _all_keys(lines)))
            msg = _message(err, Config)
            named = re.match(r"^([A-Za-z_][\w.-]*): (.*)$", msg, re.S)
            if not loc and named:  # a cross-field check names the key it is about
                loc, msg = tuple(named.group(1).split(".")), named.group(2)
            line = None
            for n in range(len(loc), -1, -1):
                if loc[:n] in lines:
                    line = lines[loc[:n]]
                    break
            issues.append(ConfigIssue(filename, line, _fmt_path(loc), msg))
        issues.sort(key=lambda i: i.line or 0)  # in file order, as people read it
        raise ConfigError(issues) from None


def _all_keys(lines: dict) -> set:
    return {k[-1] for k in lines if k}


def load_config(path: str | Path) -> Config:
    """Read, validate and return the config at ``path``; relative paths resolve beside it."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > safeyaml.MAX_BYTES:  # refused before it is read into memory
            raise ConfigError([ConfigIssue(str(p), 1, "", f"file is {size:,} bytes; the "
                                           f"limit is {safeyaml.MAX_BYTES:,}")])
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(str(p), None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigIssue(str(p), None, "", f"cannot read: {exc}")]) from None
    cfg = parse_config(text, str(p))
    cfg._source = p.resolve()
    return cfg


class ConfigHolder:
    """The live config; ``reload()`` swaps it atomically (SIGHUP), keeping the old on error."""

    def __init__(self, config: Config, path: str | Path | None = None) -> None:
        self._config = config
        self.path = Path(path) if path else config.source
        self._lock = threading.Lock()

    @property
    def current(self) -> Config:
        return self._config

    def reload(self) -> Config:
        if self.path is None:
            return self._config
        new = load_config(self.path)
        with self._lock:
            self._config = new
        return new
