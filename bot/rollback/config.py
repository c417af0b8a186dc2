"""Config section ``rollback:``: products, on-call, and the severity x impact matrix."""

from __future__ import annotations

import string
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from bot.configbase import Duration, Principal, Strict
from bot.integrations.config import PagingConfig

Severity = Literal["critical", "high", "medium", "low"]
Impact = Literal["widespread", "limited", "minimal"]
Kind = Literal["immediate", "planned", "partial", "config"]
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low")
IMPACTS: tuple[str, ...] = ("widespread", "limited", "minimal")


class Cell(Strict):
    """One matrix cell: the rollback type and how many approvals it needs first."""

    type: Kind
    approvals: int = Field(0, ge=0)
    notify_oncall: bool = False


def _c(kind: Kind, approvals: int, oncall: bool = False) -> Cell:
    return Cell(type=kind, approvals=approvals, notify_oncall=oncall)


DEFAULT_MATRIX: dict[str, dict[str, Cell]] = {
    "critical": {i: _c("immediate", 0, True) for i in IMPACTS},
    "high": {"widespread": _c("immediate", 0, True), "limited": _c("partial", 1),
             "minimal": _c("planned", 1)},
    "medium": {i: _c("planned", 1) for i in IMPACTS},
    "low": {i: _c("planned", 2) for i in IMPACTS},
}


PLACEHOLDERS = {"product", "version", "from_version", "components", "component", "id"}


class ProductRollback(Strict):
    """How to roll one product back: argv lists run without a shell, in the config file's
    directory, with placeholders {product} {version} {from_version} {components} {component}
    {id}."""

    command: tuple[str, ...] = ()
    health_check: tuple[str, ...] = ()
    timeout: Duration = timedelta(seconds=300)
    health_retries: int = Field(3, ge=0, le=20)
    health_backoff: Duration = timedelta(seconds=5)
    repo: str | None = None
    """git repo whose ``vX.Y.Z`` tags are releases (default: ``releases.products`` repo)."""
    components: tuple[str, ...] = ()
    """Components a partial rollback may name (empty: any)."""
    config_sync: str | None = None
    """Name of the config sync (``syncs:``) a Config rollback runs from an earlier ref."""

    @model_validator(mode="after")
    def _something_to_run(self) -> ProductRollback:
        if not self.command and not self.config_sync:
            raise ValueError("set command (argv list) or config_sync (a sync name), or both")
        if self.components and self.command and not self.names_components:
            raise ValueError("components are listed but command has no {component} or "
                             "{components} placeholder, so a partial rollback could not tell "
                             "it which ones to roll back")
        return self

    @property
    def names_components(self) -> bool:
        """The command is told which components to roll back."""
        return any("{component}" in a or "{components}" in a for a in self.command)

    @field_validator("command", "health_check")
    @classmethod
    def _known_placeholders(cls, argv: tuple[str, ...]) -> tuple[str, ...]:
        for arg in argv:
            try:
                names = {f for _, f, _, _ in string.Formatter().parse(arg) if f is not None}
            except ValueError as exc:
                raise ValueError(f"argument {arg!r}: {exc} (write {{{{ and }}}} for braces)")\
                    from None
            unknown = sorted(names - PLACEHOLDERS)
            if unknown:
                known = ", ".join("{" + k + "}" for k in sorted(PLACEHOLDERS))
                raise ValueError(f"argument {arg!r}: unknown placeholder {{{unknown[0]}}}; "
                                 f"known: {known}")
        return argv


class RollbackConfig(Strict):
    """The ``rollback:`` section: products, on-call, timings and the decision matrix."""

    products: dict[str, ProductRollback] = {}
    oncall: tuple[Principal, ...] = ()
    escalate_after: Duration = timedelta(minutes=5)
    postmortem_after: Duration = timedelta(days=2)
    matrix: dict[Severity, dict[Impact, Cell]] = {}
    paging: PagingConfig = PagingConfig()
    """Where on-call is paged besides the Slack mention (``pagerduty:``)."""

    @field_validator("matrix")
    @classmethod
    def _complete(cls, v: dict[str, dict[str, Cell]]) -> dict[str, dict[str, Cell]]:
        """A partial matrix overrides cells of the documented default."""
        merged = {s: dict(DEFAULT_MATRIX[s]) for s in SEVERITIES}
        for sev, row in v.items():
            merged[sev].update(row)
        return merged

    def cell(self, severity: str, impact: str) -> Cell:
        """The matrix cell for ``severity`` x ``impact`` (default matrix when none set)."""
        matrix = self.matrix or DEFAULT_MATRIX
        return matrix[severity][impact]
