"""Config section ``syncs:``: one :class:`SyncDef` per sync."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from bot.configbase import ApprovalOverride, Duration, Principal, Strict


class Source(Strict):
    """Where the files come from."""

    repo: str
    ref: str | None = None
    path: str = ""


class Target(Strict):
    """Where the files go."""

    repo: str
    branch: str | None = None
    path: str = ""


class Filters(Strict):
    """Glob patterns (``**`` allowed) relative to ``source.path``."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


class Options(Strict):
    """Execution options."""

    delete: bool = False
    commit_message: str = "sync {name} from {source_sha}"
    auto_apply: bool = True


class SyncDef(Strict):
    """One sync definition."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    type: Literal["upstream", "downstream", "cross-repo", "config"]
    source: Source
    target: Target | None = None
    targets: tuple[Target, ...] = ()
    filters: Filters = Filters()
    options: Options = Options()
    approval: ApprovalOverride | None = None
    approvers: tuple[Principal, ...] | None = None
    product: str | None = None
    lock_ttl: Duration = timedelta(minutes=30)

    @field_validator("targets")
    @classmethod
    def _targets_nonempty(cls, v: tuple[Target, ...]) -> tuple[Target, ...]:
        return v

    @model_validator(mode="after")
    def _one_target(self) -> SyncDef:
        if self.target is None and not self.targets:
            raise ValueError("needs target: or targets:")
        if self.target is not None and self.targets:
            raise ValueError("use either target: or targets:, not both")
        if len(self.targets) > 1 and self.type != "downstream":
            raise ValueError("several targets: are only allowed for type downstream")
        return self

    def all_targets(self) -> tuple[Target, ...]:
        """The target list (``target:`` alone is a list of one)."""
        return (self.target,) if self.target is not None else self.targets
