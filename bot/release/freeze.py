"""The stabilization rule: only fixes after the feature freeze. Lists the ``feat:`` commits
merged into an active release's ref since it started (its Feature Freeze)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.errors import RelbotError
from bot.release import service as rs
from bot.release import version as vs
from storage.release import ReleaseRow

if TYPE_CHECKING:
    from bot.services import Services


def feats_since_freeze(svc: Services, row: ReleaseRow) -> list[vs.Commit]:
    """``feat:`` commits between the commit the release started on and its ref now."""
    if row.status != "active" or not row.start_commit:
        return []
    try:
        p = rs.product(svc, row.product)
        return [c for c in vs.commits(rs.repo(p), row.start_commit, rs.resolve(p))
                if c.type == "feat"]
    except RelbotError:
        return []


def note(svc: Services, row: ReleaseRow) -> str | None:
    """One line per ``feat:`` commit since the freeze, or None when there are none."""
    feats = feats_since_freeze(svc, row)
    if not feats:
        return None
    items = "; ".join(f"{c.sha[:7]} {c.subject}" for c in feats)
    return (f"{len(feats)} feat: commit(s) merged into {row.product} since the freeze "
            f"({row.start_commit[:7]}) break the only-fixes rule: {items}")


def active_notes(svc: Services) -> list[str]:
    """:func:`note` for every active release (for the stabilization-week reminder)."""
    out = []
    for p in getattr(svc.config.current.releases, "products", ()) or ():
        row = rs.store(svc).find(p.name, None)
        text = note(svc, row) if row else None
        if text:
            out.append(text)
    return out
