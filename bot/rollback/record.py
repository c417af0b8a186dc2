"""A rollback's record as typed models: the request, the decision, the steps, every command
run, checklists, approvals, retries, pages and the product lock.

Stored as the model's JSON (``rollbacks.data``, keys sorted); rows written before a field
existed load with its default. The evidence record (``bot.rollback.evidence``) is built from
these models and keeps the shape it always had (``evidence_dict`` of each list entry).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.rollback.checklists import Checklists, initial
from bot.rollback.commands import CommandResult
from bot.rollback.config import Cell, ProductRollback

IMM_STEPS = ("Declare", "Decide", "Execute", "Verify", "Communicate", "Document")
PLN_STEPS = ("Assess", "Plan", "Approve", "Schedule", "Execute", "Verify & document")


class Part(BaseModel):
    """A piece of the record: assignments are validated."""

    model_config = ConfigDict(validate_assignment=True)


def _sorted(value: Any) -> Any:
    """``value`` with every mapping's keys sorted (as the record was always stored)."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


class Step(Part):
    """One step of the procedure; ``at`` is its last change, ``started`` when it began."""

    name: str
    status: str = "pending"
    at: str | None = None
    note: str = ""
    started: str | None = None


class CommandRun(CommandResult):
    """A rollback command or health check run, citing its ``rollback.command`` entry."""

    audit_seq: int | None = None

    def evidence_dict(self) -> dict[str, Any]:
        """As the evidence record lists it."""
        return _sorted(self.model_dump())


class SyncTarget(Part):
    """Which commit one target of a config sync moved from and to."""

    repo: str | None = None
    branch: str | None = None
    sha_before: str | None = None
    sha_after: str | None = None


class SyncRun(Part):
    """A Config rollback's execute step: the config sync it ran, and its sync log."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    name: str = "config sync"
    sync_plan: str
    result: str
    error: str = ""
    sync_log: str | None = None
    targets: list[SyncTarget] | None = None
    audit_seq: int | None = None

    def payload(self) -> dict[str, Any]:
        """The ``rollback.command`` audit payload (what the evidence cites)."""
        d = self.model_dump(exclude={"audit_seq"})
        return {k: v for k, v in d.items() if v is not None or k not in ("sync_log", "targets")}

    def evidence_dict(self) -> dict[str, Any]:
        """As the evidence record lists it."""
        return _sorted({**self.payload(), "audit_seq": self.audit_seq})


class Approval(Part):
    """An approver counted at the decision."""

    user: str
    at: str


class Retry(Part):
    """``/rollback retry``: who, when, from which step, its audit entry."""

    by: str
    at: str
    step: str | None = None
    audit_seq: int | None = None


class Page(Part):
    """A PagerDuty event sent, citing its ``rollback.page`` entry."""

    service: str = "pagerduty"
    action: str
    why: str
    severity: str
    dedup_key: str
    at: str
    attempt: int = 1
    audit_seq: int | None = None


class Lock(Part):
    """The product lock this rollback took, and whether it was handed on or lifted."""

    since: str | None = None
    by: str | None = None
    handed_to: str | None = None
    lifted: str | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None


class RollbackRecord(Part):
    """Everything a rollback is and did (one JSON document per rollback)."""

    model_config = ConfigDict(validate_assignment=True, extra="allow")  # older keys stay

    product: str
    kind: str
    severity: str
    impact: str
    reason: str
    from_version: str
    to_version: str
    target_why: str = ""
    components: list[str] = Field(default_factory=list)
    window: str | None = None
    config_ref: str | None = None
    cell: Cell
    cell_name: str
    why: str
    digest: str = ""
    decided: str | None = None
    decision_seconds: int | None = None
    escalated: str | None = None
    steps: list[Step] = Field(default_factory=list)
    commands: list[CommandRun | SyncRun] = Field(default_factory=list)
    verification: list[CommandRun] = Field(default_factory=list)
    checklists: Checklists = Field(default_factory=initial)
    approvals: list[Approval] = Field(default_factory=list)
    retries: list[Retry] = Field(default_factory=list)
    pages: list[Page] = Field(default_factory=list)
    lock: Lock | None = None
    sync_plan: str | None = None
    failed_step: str | None = None
    error: str = ""
    completed: str | None = None
    postmortem_due: str | None = None
    superseded_by: str | None = None

    def step(self, name: str) -> Step | None:
        """The step called ``name``."""
        return next((s for s in self.steps if s.name == name), None)

    def step_status(self, name: str) -> str | None:
        """The status of step ``name`` (None: the procedure has no such step)."""
        s = self.step(name)
        return s.status if s else None

    def current_step(self) -> str:
        """The step a stopped rollback resumes at: the first one not done or skipped."""
        return next((s.name for s in self.steps if s.status not in ("done", "skipped")),
                    "Execute")

    def plan_digest(self, p: ProductRollback) -> str:
        """SHA-256 over what approvers approve (and the action's digest): product, type,
        versions, components, window, config ref and the command and health-check argv."""
        basis: dict[str, Any] = {k: getattr(self, k) for k in (
            "product", "kind", "from_version", "to_version", "components", "window",
            "config_ref")}
        basis["command"], basis["health_check"] = list(p.command), list(p.health_check)
        return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()

    def stored(self) -> dict[str, Any]:
        """The record as stored (JSON types, keys sorted)."""
        return _sorted(self.model_dump(mode="json"))


def elapsed(a: str | None, b: str | None) -> timedelta | None:
    """Time from ISO ``a`` to ISO ``b`` (None when either is missing)."""
    if not a or not b:
        return None
    return datetime.fromisoformat(b) - datetime.fromisoformat(a)
