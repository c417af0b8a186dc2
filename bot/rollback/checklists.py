"""The Pre / During / Post rollback checklists (from the release-cadence document)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

CHECKLISTS: dict[str, tuple[tuple[str, str], ...]] = {
    "pre": (
        ("pre-1", "Incident declared; severity and impact confirmed"),
        ("pre-2", "Target version confirmed as the last known good"),
        ("pre-3", "On-call and stakeholders notified"),
        ("pre-4", "Data and schema compatible with the target version"),
        ("pre-5", "Backups / snapshots current"),
    ),
    "during": (
        ("during-1", "Rollback command output watched"),
        ("during-2", "Error rate and latency monitored"),
        ("during-3", "Traffic / feature flags adjusted if needed"),
        ("during-4", "Status updates posted"),
    ),
    "post": (
        ("post-1", "Health check passes"),
        ("post-2", "Key user journeys smoke-tested"),
        ("post-3", "Monitoring back to baseline"),
        ("post-4", "Incident ticket and timeline updated"),
        ("post-5", "Postmortem scheduled"),
    ),
}
TITLES = {"pre": "Pre-rollback", "during": "During rollback", "post": "Post-rollback"}
LABELS = {value: label for items in CHECKLISTS.values() for value, label in items}


class Tick(BaseModel):
    """A ticked checklist item: who, when, and the ``rollback.checklist`` entry."""

    model_config = ConfigDict(validate_assignment=True)

    by: str
    at: str
    audit_seq: int | None = None

    def evidence_dict(self) -> dict[str, str | int]:
        """As the evidence record lists it (keys sorted, as always stored)."""
        return dict(sorted(self.model_dump(exclude_none=True).items()))


Checklists = dict[str, dict[str, Tick]]
"""``{list: {item value: Tick}}``: the ticked items of each checklist."""


def initial() -> Checklists:
    """Every checklist empty."""
    return {name: {} for name in CHECKLISTS}


def apply_ticks(state: Checklists, name: str, selected: set[str], user: str, at: str,
                before: set[str] | None = None) -> tuple[list[str], list[str]]:
    """Apply one click on list ``name``; returns (ticked, unticked) item values.

    ``before`` is what the user's client showed (Slack sends it with the click): only the
    difference is applied, so two people ticking different boxes at once both count. Without
    it the list is set to exactly ``selected``.
    """
    valid = {v for v, _ in CHECKLISTS[name]}
    selected = selected & valid
    current = state.setdefault(name, {})
    if before is None:
        before = set(current)
    ticked = sorted((selected - before) - set(current))
    unticked = sorted((before - selected) & set(current))
    for v in ticked:
        current[v] = Tick(by=user, at=at)
    for v in unticked:
        del current[v]
    return ticked, unticked


def summary(state: Checklists) -> str:
    """``pre 2/5, during 0/4, post 0/5``."""
    return ", ".join(f"{n} {len(state.get(n, {}))}/{len(items)}"
                     for n, items in CHECKLISTS.items())
