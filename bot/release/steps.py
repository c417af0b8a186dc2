"""Moving a release through its steps: each move is its action's (kind ``release``, status
the step it is at), past the gate of :mod:`bot.release.gate`, and commits with the release's
own writes, its audit entries and its messages in one transaction."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from bot.actions.gates import CHECKS, NOT_FROZEN
from bot.clock import iso
from bot.errors import CommandFailed, Refused, UsageError
from bot.release import gate as gt
from bot.release import message as msg
from bot.release import service as rs
from bot.release import tagging
from storage.release import ReleaseRow

if TYPE_CHECKING:
    from bot.services import Services

KIND = "release"
"""The action kind of a release (``release:<id>``)."""


def advance(svc: Services, row: ReleaseRow, actor: str) -> tuple[ReleaseRow, str | None]:
    """Leave the release's step: re-run the automatic checks on the candidate (re-resolved
    from the ref); then, holding the release's lease, enforce the gate (its first blocking
    verdict's refusal), tag when leaving Execution, and record the move. Returns the row and,
    when the candidate moved (or the release commit was prepared), a sentence saying so."""
    if row.status != "active":
        raise Refused(f"{row.product} {row.version} is {row.status}")
    start = row.step
    row, moved = rs.recheck(svc, row)
    holder = f"{actor}#{secrets.token_hex(4)}"
    held = svc.locks.acquire(gt.lease_key(row), holder, gt.LEASE_TTL, f"advance by <@{actor}>")
    if held is not None:
        raise gt.lease(svc, row, held=held).refuse()
    try:
        row = _unmoved(svc, row, start)
        blocked = gt.gate(svc, row, moved, holder).blocking()
        if blocked is not None:
            _audit_blocked(svc, row, actor, blocked.name)
            raise blocked.refuse()
        nxt = gt.next_step(row)
        tagged = tagging.tag(svc, row, actor) if nxt == "Post-Release" else None
        new = _record(svc, row, nxt, actor, tagged, moved)
    finally:
        svc.locks.release(gt.lease_key(row), holder)
    if nxt == "RC" and rs.product(svc, row.product).prepare:
        done = _prepare(svc, new, actor)
        new = msg.refresh(svc, rs.run_auto(svc, rs.store(svc).get(row.id) or new), done)
        moved = "; ".join(x for x in (moved, done) if x) or None
    return new, moved


def abort(svc: Services, row: ReleaseRow, actor: str, reason: str) -> ReleaseRow:
    """Abort an active release with a reason: the move, its audit entry and the message in one
    transaction; Refused when it is already over (or moved meanwhile)."""
    if not reason:
        raise UsageError("usage: /release abort VERSION reason")
    if row.status != "active":
        raise Refused(f"{row.product} {row.version} is {row.status}, nothing to abort")
    with svc.db.tx():
        if svc.actions.move(KIND, str(row.id), "aborted", only_from=[row.step]):
            rs.store(svc).record_step(row.id, row.step, iso(svc.clock.now()), reason)
            svc.audit.append(actor, "release.abort", rs.subject(row),
                             {"step": row.step, "reason": reason})
            return msg.refresh(svc, row, f"<@{actor}> aborted: {reason}")
    now = rs.store(svc).get(row.id) or row
    if now.status != "active":
        raise Refused(f"{row.product} {row.version} is {now.status}, nothing to abort")
    raise _meanwhile(now)


def digest(row: ReleaseRow) -> str:
    """What a step was checked on: the candidate commit, and the notes drafted for it."""
    notes = f"+notes:{row.notes_digest}" if row.notes_digest and \
        row.notes_commit == row.commit else ""
    return row.commit + notes


def _unmoved(svc: Services, row: ReleaseRow, start: str) -> ReleaseRow:
    """``row`` as stored now, still active at ``start`` (the step the user asked to leave);
    else refused: another advance or an abort got there first."""
    now = rs.store(svc).get(row.id) or row
    if now.status != "active":
        raise Refused(f"{now.product} {now.version} is {now.status}")
    if now.step != start:
        raise _meanwhile(now)
    return now


def _meanwhile(row: ReleaseRow) -> Refused:
    return Refused(f"{row.product} {row.version} moved to {row.step} meanwhile; nothing more "
                   "was done")


def _audit_blocked(svc: Services, row: ReleaseRow, actor: str, gate: str) -> None:
    """``release.advance.blocked`` for gating checks or a rollback lock."""
    if gate == CHECKS and (block := rs.blockers(svc, row)):
        svc.audit.append(actor, "release.advance.blocked", rs.subject(row), {
            "step": row.step, "blocked_by": [b[0] for b in block], "commit": row.commit})
    elif gate == NOT_FROZEN and (fr := svc.locks.frozen(row.product)) is not None:
        svc.audit.append(actor, "release.advance.blocked", rs.subject(row), {
            "step": row.step, "frozen": fr.reason})


def _record(svc: Services, row: ReleaseRow, nxt: str, actor: str,
            tagged: tuple[str, str, str] | None, moved: str | None) -> ReleaseRow:
    """The move with the release's own writes, its audit entries, the message update and the
    thread posts (queued in the outbox) in one transaction. A pushed tag is recorded even if
    the move lost (to an abort meanwhile): it exists."""
    to = "released" if nxt == "Released" else nxt
    with svc.db.tx():
        if tagged is not None:
            tagging.record(svc, row, actor, *tagged)
        if svc.actions.move(KIND, str(row.id), to, only_from=[row.step], digest=digest(row)):
            rs.store(svc).record_step(row.id, nxt, iso(svc.clock.now()))
            svc.audit.append(actor, "release.advance", rs.subject(row), {
                "from": row.step, "to": nxt, "commit": row.commit})
            note = f" ({moved})" if moved else ""
            new = msg.refresh(svc, row, f"<@{actor}> moved {row.step} → {nxt}{note}")
            if tagged is not None:
                msg.to_channel(svc, new, tagging.tagged_text(new))
            return new
    raise _meanwhile(rs.store(svc).get(row.id) or row)


def _prepare(svc: Services, row: ReleaseRow, actor: str) -> str | None:
    """``prepare: true`` on entering RC; a failure is said, the step stays moved."""
    from bot.release.prepare import prepare

    try:
        return prepare(svc, row, actor)
    except (Refused, CommandFailed) as exc:
        svc.audit.append(actor, "release.prepare.failed", rs.subject(row), {"error": str(exc)})
        return f"preparing the release commit failed: {exc}; `/release prepare` retries"
