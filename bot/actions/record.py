"""Gated actions as typed records, and the one way their status changes.

An action is a sync plan, a rollback or a release: an id, a kind, the digest of exactly what
it will do, a status from its kind's :class:`bot.actions.machine.Machine`, and an optional
parent (a config rollback is the parent of the sync it runs). :meth:`Actions.move` is the one
compare-and-set every feature uses; called inside ``svc.db.tx()`` it commits with the
feature's own writes and the messages the move decides (the outbox joins the transaction).
"""

from __future__ import annotations

from collections.abc import Collection

from pydantic import BaseModel, ConfigDict

from bot.actions.machine import MACHINES, Machine
from bot.clock import Clock, iso
from bot.errors import InvalidValue
from storage.actions import ActionRow, ActionStore, SlotTaken, action_id

__all__ = ["Action", "Actions", "SlotTaken", "action_id"]


class Action(BaseModel):
    """One gated action as stored."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: str
    subject: str
    digest: str
    status: str
    active: bool
    exclusive: str | None = None
    parent: str | None = None
    created: str
    updated: str

    @classmethod
    def of(cls, row: ActionRow) -> Action:
        """The typed record of a stored row."""
        return cls(**row.__dict__)


class Actions:
    """Create, read and move gated actions (``svc.actions``)."""

    def __init__(self, store: ActionStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def machine(self, kind: str) -> Machine:
        """``kind``'s status machine; :class:`InvalidValue` for an unknown kind."""
        try:
            return MACHINES[kind]
        except KeyError:
            raise InvalidValue("kind", kind, f"not one of {sorted(MACHINES)}") from None

    def create(self, kind: str, subject: str, status: str, *, digest: str = "",
               exclusive: str | None = None, parent: str | None = None) -> Action:
        """Record a new action in ``status``; :class:`SlotTaken` when ``exclusive`` is held
        by another active action."""
        m = self.machine(kind)
        if status not in m.moves and status not in m.finished:
            raise InvalidValue("status", status, f"not a status of a {kind} action")
        return Action.of(self.store.create(kind, subject, status, active=m.is_active(status),
                                           at=iso(self.clock.now()), digest=digest,
                                           exclusive=exclusive, parent=parent))

    def get(self, kind: str, subject: str) -> Action | None:
        """The action of ``kind``'s record ``subject`` (None: not recorded)."""
        row = self.store.get(kind, subject)
        return Action.of(row) if row is not None else None

    def move(self, kind: str, subject: str, to: str, *,
             only_from: Collection[str] | None = None, digest: str | None = None) -> bool:
        """Move to ``to`` if the status is one of ``only_from`` (default: every status the
        machine lets reach ``to``); True if this caller moved it. Of racing callers exactly
        one wins; a move the machine forbids raises :class:`bot.errors.IllegalMove`."""
        m = self.machine(kind)
        sources = m.sources(to) if only_from is None else frozenset(only_from)
        for s in sources:
            m.check(s, to)
        if not sources:
            m.check("", to)
        return self.store.move(kind, subject, to, sorted(sources), active=m.is_active(to),
                               at=iso(self.clock.now()), digest=digest)

    def with_status(self, kind: str, statuses: Collection[str]) -> list[Action]:
        """``kind``'s actions in one of ``statuses``, oldest first."""
        return [Action.of(r) for r in self.store.with_status(kind, statuses)]

    def children(self, parent: Action) -> list[Action]:
        """The actions ``parent`` started (a config rollback's syncs), oldest first."""
        return [Action.of(r) for r in self.store.children(parent.id)]

    def parent(self, child: Action) -> Action | None:
        """The action ``child`` was started by (None: it has no parent)."""
        if child.parent is None:
            return None
        kind, _, subject = child.parent.partition(":")
        return self.get(kind, subject)

    def adopt(self, child_kind: str, child_subject: str, parent: Action) -> None:
        """Record ``parent`` as the parent of an existing action."""
        self.store.set_parent(child_kind, child_subject, parent.id)
