"""Starting a release: which version (bumps, pre-releases of the release being prepared),
the cadence rules that need a reason, and checks carried over from an rc to its final."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import semver

from bot.actions.record import SlotTaken
from bot.cadence import calendar as calmod
from bot.cadence.loader import effective
from bot.clock import iso
from bot.errors import Refused
from bot.release import checks as ck
from bot.release import service as rs
from bot.release import version as vs
from bot.release.config import Product
from storage.release import Conflict, ReleaseRow

if TYPE_CHECKING:
    from bot.services import Services


def _cycle_kind(svc: Services) -> str | None:
    cal = effective(svc.config.current)
    return calmod.status(cal, svc.clock.now()).kind if cal and cal.cycle_start else None


def choose(svc: Services, p: Product, how: str | None
           ) -> tuple[semver.Version, semver.Version | None, str]:
    """The new version for ``how`` (None: proposed from commits), the last release, and
    why that version."""
    last, bump, why = rs.propose(p, rs.store(svc).released(p.name))
    taken = rs.taken_versions(svc, p)
    if how is None:
        if bump is None:
            raise Refused(f"no releasable commits (feat/fix/perf/docs) in {p.name} since "
                          f"{'v' + str(last) if last else 'the first commit'}")
        return vs.next_version(last, bump), last, f"proposed {bump} from: " + "; ".join(why)
    how = vs.bump_kind_or_usage(how)
    if how in vs.STAGES:
        pick = bump or _cycle_kind(svc) or "minor"
        target = vs.target_of(last, taken, pick)
        in_progress = any(v.prerelease and v.finalize_version() == target for v in taken)
        src = ("continuing its pre-releases" if in_progress
               else f"{pick} from " + ("the commits" if bump else "the cadence"))
        return vs.prerelease(how, target, taken), last, f"requested {how} of {target} ({src})"
    if how == "final":
        target = vs.target_of(last, taken, "minor")
        if not any(v.prerelease and v.finalize_version() == target for v in taken):
            raise Refused(f"no pre-release of {p.name} in progress to make final; start "
                          f"`major|minor|patch` or a version")
        return target, last, f"requested final of {target}"
    if how in vs.BUMPS:
        return vs.next_version(last, how), last, f"requested {how}" + _below(how, bump, why)
    new = vs.parse(how)
    if new.prerelease and new.prerelease in vs.STAGES:          # 1.5.0-alpha: next alpha.N
        return vs.prerelease(new.prerelease, new.finalize_version(), taken), last, \
            f"requested {how}"
    return new, last, f"requested {how}"


def _last_final_below(svc: Services, p: Product, new: semver.Version) -> semver.Version | None:
    """The last final release below ``new``'s final version: what its kind (major, minor,
    patch) is measured from. A pre-release of the same final is not (2.0.0 after the tag
    v2.0.0-rc.1 is a major, not a patch)."""
    target = new.finalize_version()
    finals = [v for v in vs.tags(rs.repo(p)) + [vs.parse(r) for r in
                                                rs.store(svc).released(p.name)]
              if not v.prerelease and v < target]
    return max(finals, default=None)


def _below(how: str, bump: str | None, why: list[str]) -> str:
    """A warning when the requested bump is smaller than the one the commits call for (a
    breaking change in a minor, a feature in a patch); '' otherwise."""
    if bump is None or vs.BUMPS.index(bump) >= vs.BUMPS.index(how):
        return ""
    return f"; :warning: the commits call for a {bump} release: " + "; ".join(why)


def cadence_rule(svc: Services, kind: str, now: datetime) -> str | None:
    """Why starting a ``kind`` release now breaks the cadence (None when it does not)."""
    cal = effective(svc.config.current)
    if cal is None or cal.cycle_start is None:
        return None
    st = calmod.status(cal, now)
    if kind == "major" and st.kind != "major":
        return f"a major release outside a major cycle (cycle {st.cycle} is a {st.kind} cycle)"
    if kind == "minor" and st.stabilization:
        return (f"a minor release started in the stabilization week of cycle {st.cycle} "
                "(only fixes)")
    return None


def start(svc: Services, actor: str, name: str | None, how: str | None,
          reason: str | None = None) -> tuple[ReleaseRow, str]:
    """Create a release at Feature Freeze; returns the row and a why-text."""
    p = rs.product(svc, name)
    fr = svc.locks.frozen(p.name)
    if fr:
        raise Refused(f"{fr.describe()}. Releases of {p.name} are refused until then.")
    new, last, why = choose(svc, p, how)
    vs.check_greater(new, last, p.name)
    kind = vs.cadence(new, _last_final_below(svc, p, new))
    broken = cadence_rule(svc, kind, svc.clock.now())
    if broken and not reason:
        svc.audit.append(actor, "release.start.refused", f"{p.name}@{new}", {
            "reason": broken, "needs": "reason="})
        raise Refused(f"{p.name} {new} would be {broken}; say why to start it anyway: "
                      f"`/release start {p.name} {how or kind} reason=\"...\"`")
    row = _create(svc, actor, p, new, kind, broken and reason or "")
    svc.audit.append(actor, "release.start", rs.subject(row), {
        "version": row.version, "bump": kind, "cadence": vs.CADENCE[kind], "commit": row.commit,
        "last": str(last) if last else None, "why": why, "stage": vs.stage(new),
        "cadence_rule": broken, "reason": reason or None})
    carried = carry_over(svc, row, actor)
    if carried:
        why += f"; kept {', '.join(carried)} from the rc on the same commit"
    if reason:
        why += f"; reason: {reason}"
    return rs.store(svc).get(row.id), why  # type: ignore[return-value]


def _create(svc: Services, actor: str, p: Product, new: semver.Version, kind: str,
            reason: str) -> ReleaseRow:
    sha = rs.resolve(p)
    try:
        with svc.db.tx():       # the release and its action (status, one active per product)
            rid = rs.store(svc).create(p.name, str(new), kind, ck.STEPS[0], actor, sha,
                                       iso(svc.clock.now()), ck.initial(kind), reason)
            svc.actions.create("release", str(rid), ck.STEPS[0], digest=sha,
                               exclusive=rs.slot(p.name))
    except (Conflict, SlotTaken) as exc:
        why = str(exc) if isinstance(exc, Conflict) else \
            rs.store(svc).conflict(p.name, str(new)) or str(exc)
        svc.audit.append(actor, "release.start.refused", f"{p.name}@{new}", {"reason": why})
        if why == f"{p.name} {new} is already aborted":  # version numbers are not reused
            nxt = (f"{vs.stage(new)}" if new.prerelease else str(vs.next_version(new, 'patch')))
            raise Refused(f"cannot start {p.name} {new}: it was aborted and a version is not "
                          f"reused; start the next one: `/release start {p.name} "
                          f"{nxt}`") from None
        raise Refused(f"cannot start {p.name} {new}: {why} (one active release per product)")\
            from None
    row = rs.store(svc).get(rid)
    assert row is not None
    return row


def carry_over(svc: Services, row: ReleaseRow, actor: str) -> list[str]:
    """Promoting ``X.Y.Z-rc.N`` to ``X.Y.Z`` on the same commit keeps the decisions people
    made on the rc (confirmed or waived); automatic checks re-run on the final anyway."""
    new = vs.parse(row.version)
    if new.prerelease:
        return []
    p = rs.product(svc, row.product)
    rcs = [r for r in rs.store(svc).releases_of(row.product)
           if r.status == "released" and r.commit == row.commit
           and vs.parse(r.version).finalize_version() == new and vs.stage(vs.parse(r.version))
           == "rc"]
    if not rcs:
        return []
    rc = max(rcs, key=lambda r: vs.parse(r.version))
    kept = []
    for cid, c in rc.checks.items():
        if ck.automatic(p, cid) or c.result not in ("pass", "waived") \
                or row.checks[cid].result == "n/a":
            continue
        rs.record(svc, row, cid, c.result, c.actor,
                  f"kept from {rc.version} on {rc.commit[:7]}: {c.evidence}")
        kept.append(cid)
    if kept:
        svc.audit.append(actor, "release.carry_over", rs.subject(row), {
            "from": rc.version, "commit": row.commit, "checks": kept})
    return kept

