"""Named requirements and the gate that evaluates them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from bot.errors import Refused

APPROVAL = "approval policy"
NOT_FROZEN = "product not frozen"
FRESH = "plan fresh"
LEASE = "lease free"
CHECKS = "checks pass"
WINDOW = "window reached"


@dataclass(frozen=True)
class Verdict:
    """One requirement's answer: ``ok``, and the sentence a user reads either way."""

    name: str
    ok: bool
    text: str
    who_can_clear: str = ""
    refusal: str = ""
    """What a refusal on this gate says (defaults to ``text``)."""

    def refuse(self) -> Refused:
        """The :class:`Refused` this verdict raises when it blocks."""
        return Refused(self.refusal or self.text, gate=self.name,
                       who_can_clear=self.who_can_clear)


Requirement = Callable[[], Verdict]
"""A named check, evaluated only when the gate gets to it (some read git or Slack)."""


class Gate:
    """An action's requirements, in the order they are checked."""

    def __init__(self, requirements: Sequence[Requirement]) -> None:
        self.requirements = tuple(requirements)

    def verdicts(self) -> Iterator[Verdict]:
        """Every requirement's verdict (``/... status`` explains each)."""
        for req in self.requirements:
            yield req()

    def blocking(self) -> Verdict | None:
        """The first verdict that says no, or None when the action may run."""
        return next((v for v in self.verdicts() if not v.ok), None)

    def enforce(self) -> None:
        """Raise the first blocking verdict's :class:`Refused`."""
        blocked = self.blocking()
        if blocked is not None:
            raise blocked.refuse()
