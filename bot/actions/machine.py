"""The status machines of the gated actions: which status may follow which, per kind.

One table per kind (:data:`MACHINES`); :class:`bot.actions.record.Actions` refuses any move
the table does not list, and storage's one compare-and-set makes each move exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from bot.errors import IllegalMove


class Machine(BaseModel):
    """A kind's statuses: where each may go, and which are finished (no longer active)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    moves: Mapping[str, frozenset[str]]
    finished: frozenset[str]

    def is_active(self, status: str) -> bool:
        """True while the action is not finished (it holds its ``exclusive`` slot)."""
        return status not in self.finished

    def sources(self, to: str) -> frozenset[str]:
        """Every status that may move to ``to``."""
        return frozenset(s for s, targets in self.moves.items() if to in targets)

    def check(self, from_: str, to: str) -> None:
        """Raise :class:`IllegalMove` unless ``from_`` may move to ``to``."""
        if to not in self.moves.get(from_, frozenset()):
            raise IllegalMove(self.kind, from_, to)


def _machine(kind: str, moves: dict[str, set[str]], finished: set[str]) -> Machine:
    return Machine(kind=kind, moves={k: frozenset(v) for k, v in moves.items()},
                   finished=frozenset(finished))


SYNC = _machine("sync", {
    # created as planned (changes to approve), no-changes, or dry-run (`relbot sync plan --db`)
    "planned": {"running", "stale", "expired", "cancelled",
                "failed"},            # a fault in the gates before the pushes
    "running": {"done", "partially-applied", "failed"},
    "failed": {"running"},            # /sync retry: the failed targets again
    "partially-applied": {"running"},
}, finished={"done", "stale", "expired", "cancelled", "no-changes", "dry-run"})
"""Exactly the moves bot/sync makes (``bot.sync.flow.move``); storage/sync.py's migration
marks the same finished statuses inactive."""

ROLLBACK = _machine("rollback", {
    # approved (window ahead) / claimed to execute / called off / approval expired or its
    # config dry-run expired or was cancelled / stopped at Plan or Schedule
    "awaiting-approval": {"scheduled", "executing", "cancelled", "expired", "failed"},
    # claimed at the window / an approval withdrawn / called off
    "scheduled": {"executing", "awaiting-approval", "cancelled"},
    # finished / stopped (a claim refused by its approval re-check is rolled back instead)
    "executing": {"done", "failed"},
    # retried (a config one with a new dry-run) / withdrawn when it stopped at Schedule /
    # given up / superseded by an immediate rollback
    "failed": {"executing", "awaiting-approval", "aborted", "superseded"},
}, finished={"done", "cancelled", "aborted", "superseded", "expired"})
"""Exactly the moves ``bot/rollback`` makes (each ``svc.actions.move`` call names its
sources); created ``executing`` (RB-IMM) or ``awaiting-approval`` (RB-PLN, Config)."""

RELEASE_STEPS = ("Feature Freeze", "RC", "Validation", "Execution", "Post-Release")
"""A release's status while it is active is the step it is at (``bot.release.checks.STEPS``)."""

RELEASE = _machine("release", {
    **{step: {nxt, "aborted"} for step, nxt in zip(RELEASE_STEPS, RELEASE_STEPS[1:],
                                                     strict=False)},
    "Post-Release": {"released", "aborted"},
}, finished={"released", "aborted"})
"""Forward one step at a time (``/release advance``); ``/release abort`` from any active step;
leaving Post-Release closes it as ``released``."""

MACHINES: dict[str, Machine] = {m.kind: m for m in (SYNC, ROLLBACK, RELEASE)}
"""Every kind of gated action by name."""
