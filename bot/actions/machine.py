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
    "planned": {"running", "stale", "expired", "cancelled", "no-changes", "failed"},
    "running": {"done", "partially-applied", "failed"},
    "failed": {"running", "cancelled"},
    "partially-applied": {"running", "cancelled"},
}, finished={"done", "stale", "expired", "cancelled", "no-changes"})

ROLLBACK = _machine("rollback", {
    "awaiting-approval": {"scheduled", "executing", "cancelled"},
    "scheduled": {"executing", "awaiting-approval", "cancelled"},
    "executing": {"done", "failed", "awaiting-approval", "scheduled"},
    "failed": {"executing", "awaiting-approval", "aborted", "superseded"},
}, finished={"done", "cancelled", "aborted", "superseded"})

MACHINES: dict[str, Machine] = {m.kind: m for m in (SYNC, ROLLBACK)}
"""Every kind of gated action by name."""
