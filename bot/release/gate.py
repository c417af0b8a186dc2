"""What leaving a release's step needs, as one :class:`bot.actions.Gate`: no other advance is
under way (``lease free``), the candidate is the commit the checks ran on (``plan fresh``),
the step's gating checks hold on it (``checks pass``) and no rollback lock holds the next
step back (``product not frozen``). ``/release advance`` refuses on the first that says no;
``/release status`` lists every verdict of the same gate."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.actions import Gate, Verdict
from bot.actions import requirements as req
from bot.actions.gates import CHECKS, FRESH, NOT_FROZEN
from bot.errors import Refused
from bot.release import checks as ck
from bot.release import service as rs
from bot.release.config import Product
from storage.locks import Lease
from storage.release import ReleaseRow

if TYPE_CHECKING:
    from bot.services import Services

LEASE_TTL = timedelta(minutes=5)
"""How long an advance may hold its release (the tag push happens under it); a crashed
advance's lease lapses by itself."""


def next_step(row: ReleaseRow) -> str:
    """The step leaving ``row.step`` enters (``Released`` after Post-Release)."""
    i = ck.STEPS.index(row.step)
    return ck.STEPS[i + 1] if i + 1 < len(ck.STEPS) else "Released"


def lease_key(row: ReleaseRow) -> str:
    """The lease an advance of ``row`` holds from its gate to its record."""
    return f"release:{row.id}"


def gate(svc: Services, row: ReleaseRow, moved: str | None = None,
         holder: str | None = None) -> Gate:
    """Leaving ``row.step`` (active): ``moved`` is what the advance's re-check said when the
    candidate moved, ``holder`` the advance's own lease (None: reading, as ``/release status``
    does)."""
    p = rs.product(svc, row.product)
    return Gate([lambda: lease(svc, row, holder), lambda: fresh(svc, p, row, moved),
                 lambda: checks(svc, p, row, moved), lambda: not_frozen(svc, row)])


def lease(svc: Services, row: ReleaseRow, holder: str | None = None,
          held: Lease | None = None) -> Verdict:
    """No other advance of the release holds it (``held``: the lease found taken)."""
    held = held or svc.locks.holder(lease_key(row))
    if held is not None and held.holder == holder:
        held = None
    v = req.lease_free(held, f"{row.product} {row.version}")
    if held is None:
        return v
    text = (f"another advance of {row.product} {row.version} is under way ({held.purpose} "
            f"since {held.acquired}); nothing was done")
    return replace(v, text=text, refusal=text)


def fresh(svc: Services, p: Product, row: ReleaseRow, moved: str | None) -> Verdict:
    """The candidate is where the ref points. Elsewhere the checks just follow the ref; at
    Execution a candidate that moved is not shipped in the same step."""
    try:
        head = rs.resolve(p)
    except Refused as exc:
        return Verdict(FRESH, False, exc.message)
    sha = row.commit[:7]
    if moved and row.step == "Execution":
        return Verdict(FRESH, False, moved, refusal=_moved_refusal(svc, p, row, moved))
    if head == row.commit:
        return Verdict(FRESH, True, f"the candidate {sha} is where {p.ref} points")
    if row.step != "Execution":
        return Verdict(FRESH, True, f"{p.ref} moved to {head[:7]} since the checks ran on "
                                    f"{sha}: advancing re-runs them on {head[:7]} first")
    return Verdict(FRESH, False, f"{p.ref} moved to {head[:7]} since the checks passed on {sha}"
                                 f": `/release check` re-runs them on {head[:7]}",
                   refusal=f"not {_shipping(p, row)}: the checks passed on {sha} but {p.ref} "
                           f"is now at {head[:7]}; `/release check` re-runs them on "
                           f"{head[:7]}")


def checks(svc: Services, p: Product, row: ReleaseRow, moved: str | None) -> Verdict:
    """The checks gating the step hold on the candidate (leaving Execution: every gating
    check, and each automatic one decided on that very commit)."""
    block = blocked(svc, row)
    if block:
        note = f" ({moved})" if moved else ""
        return req.checks_pass(block, row.commit,
                               refusal=f"cannot leave {row.step}: {'; '.join(block)}{note}")
    bad = unchecked(p, row) if row.step == "Execution" else []
    if bad:
        return req.checks_pass(bad, row.commit, refusal=f"not {_shipping(p, row)} on "
                                                        f"{row.commit[:7]}: " + "; ".join(bad))
    if not ck.gating(row.step):
        return Verdict(CHECKS, True, f"no check gates leaving {row.step}")
    return req.checks_pass([], row.commit)


def not_frozen(svc: Services, row: ReleaseRow) -> Verdict:
    """No rollback lock holds the next step back (a frozen product's release may not enter
    Execution or Post-Release; one that shipped may still be closed)."""
    fr = svc.locks.frozen(row.product)
    nxt = next_step(row)
    if fr is not None and nxt not in rs.SHIPPING:
        return Verdict(NOT_FROZEN, True, f"{fr.describe()}; it holds back only "
                                         f"{' and '.join(rs.SHIPPING)}")
    v = req.not_frozen(fr, row.product)
    if fr is None:
        return v
    return replace(v, refusal=f"{fr.describe()}. {row.product} {row.version} stays at "
                              f"{row.step} until then (it may not enter {nxt}).")


def blocked(svc: Services, row: ReleaseRow) -> list[str]:
    """One line per check gating the step that is not done, with who can clear it."""
    return [f"{c} {ck.NAMES[c]} is {r}{_why(row, c)} — cleared by {w}"
            for c, r, w in rs.blockers(svc, row)]


def unchecked(p: Product, row: ReleaseRow) -> list[str]:
    """Gating checks that do not hold on the candidate commit (why, one line each)."""
    out = []
    for cid in ck.all_gating():
        c = row.checks[cid]
        if c.result not in ck.DONE:
            why = f" ({c.evidence})" if c.evidence else ""
            out.append(f"{cid} {ck.NAMES[cid]} is {c.result} on {row.commit[:7]}{why}")
        elif c.result == "pass" and ck.automatic(p, cid) and c.commit != row.commit:
            out.append(f"{cid} passed on {(c.commit or '?')[:7]}, not on {row.commit[:7]}")
    return out


def _why(row: ReleaseRow, cid: str) -> str:
    """`` (first line of the check's evidence)`` for a blocker, or ''."""
    ev = (row.checks[cid].evidence or "").strip()
    return f" ({ev.splitlines()[0][:140]})" if ev else ""


def _shipping(p: Product, row: ReleaseRow) -> str:
    return f"tagging v{row.version}" if p.tag else f"shipping {row.product} {row.version}"


def _moved_refusal(svc: Services, p: Product, row: ReleaseRow, moved: str) -> str:
    """Leaving Execution after the ref moved: what the next advance does on the new candidate
    (ships it, or what still blocks it there)."""
    sha = row.commit[:7]
    if p.tag:
        head = f"not tagging v{row.version}: {moved}. Tagging needs the commit the checks " \
               "passed on"
        then = f"`/release advance` again tags {sha}"
    else:
        head = f"{row.product} {row.version} stays at Execution: {moved}"
        then = f"`/release advance` again ships {sha}"
    block = blocked(svc, row)
    if block:
        then = f"before {sha} ships: {'; '.join(block)}"
    return f"{head}; {then}"
