"""Moving a release through its steps, and the tag on exactly the checked commit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.clock import iso
from bot.errors import CommandFailed, Refused
from bot.git import git
from bot.release import checks as ck
from bot.release import service as rs
from bot.release import version as vs
from storage.release import ReleaseRow

if TYPE_CHECKING:
    from bot.services import Services


def tag_name(row: ReleaseRow) -> str:
    """The release's tag: ``vX.Y.Z``."""
    return f"v{row.version}"


def unchecked(p: Any, row: ReleaseRow) -> list[str]:
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


def tag(svc: Services, row: ReleaseRow, actor: str) -> str | None:
    """Create annotated ``vX.Y.Z`` on exactly the commit every gating check passed on, and
    push it to the repo's first remote; refused (naming both SHAs) when the ref moved, or
    when a gating check does not hold on the candidate (also without ``tag: true``: what
    ships is what was checked)."""
    p = rs.product(svc, row.product)
    name = tag_name(row)
    what = f"tagging {name}" if p.tag else f"shipping {row.product} {row.version}"
    head = rs.resolve(p)
    if head != row.commit:
        raise Refused(f"not {what}: the checks passed on {row.commit[:7]} but "
                      f"{p.ref} is now at {head[:7]}; `/release check` re-runs them on "
                      f"{head[:7]}", gate=row.step)
    bad = unchecked(p, row)
    if bad:
        raise Refused(f"not {what} on {row.commit[:7]}: " + "; ".join(bad), gate=row.step)
    if not p.tag:
        return None
    try:
        obj, remote = make_tag(p, name, row.commit,
                               f"{p.name} {row.version}\n\nrelbot release {rs.subject(row)}")
    except Refused as exc:
        svc.audit.append(actor, "release.tag.failed", rs.subject(row), {
            "tag": name, "commit": row.commit, "error": str(exc)})
        raise
    rs.store(svc).set_tag(row.id, name, obj, remote)
    svc.audit.append(actor, "release.tag", rs.subject(row), {
        "tag": name, "tag_object": obj, "commit": row.commit, "pushed_to": remote or None})
    return name


def make_tag(p: Any, name: str, commit: str, message: str) -> tuple[str, str]:
    """Create annotated ``name`` on ``commit`` and push it to the first remote; returns the
    tag object SHA and the remote ('' when the repo has none)."""
    if git("tag", "--list", name, cwd=p.repo).strip():
        raise Refused(f"tag {name} already exists in {p.name}; not overwriting it")
    git("tag", "-a", name, "-m", message, commit, cwd=p.repo)
    obj = git("rev-parse", f"refs/tags/{name}", cwd=p.repo).strip()
    remotes = git("remote", cwd=p.repo).split()
    remote = remotes[0] if remotes else ""
    if remote:
        try:
            git("push", remote, f"refs/tags/{name}", cwd=p.repo)
        except CommandFailed as exc:  # keep nothing half-done: the next attempt tags again
            git("tag", "-d", name, cwd=p.repo, check=False)
            why = " ".join(exc.output.split())[-300:] or str(exc)
            raise Refused(f"not tagging {name}: pushing it to {remote} failed ({why}); the "
                          f"tag was not kept, try again once {remote} takes it") from None
    return obj, remote


def cut_rc(svc: Services, row: ReleaseRow, actor: str) -> str:
    """At the RC step of a final release: tag the candidate ``vX.Y.Z-rc.N`` (next N) for
    testing; returns what was done (for the thread)."""
    p = rs.product(svc, row.product)
    if row.status != "active" or row.step != "RC":
        raise Refused(f"rc tags are cut at the RC step; {row.product} {row.version} is at "
                      f"{row.step} ({row.status})")
    ver = vs.parse(row.version)
    if ver.prerelease:
        raise Refused(f"{row.version} is itself a pre-release; its own tag comes at Execution")
    if not p.tag:
        raise Refused(f"tagging is off for {p.name} (`tag: false` in releases.products)")
    row, moved = rs.recheck(svc, row, actor)
    taken = [v for v in rs.taken_versions(svc, p) if v != ver]   # ver: this release itself
    rc = vs.prerelease("rc", ver, taken)
    name = f"v{rc}"
    obj, remote = make_tag(p, name, row.commit, f"{p.name} {rc}\n\nrelbot release "
                                                 f"{rs.subject(row)} (RC step)")
    svc.audit.append(actor, "release.rc_tag", rs.subject(row), {
        "tag": name, "tag_object": obj, "commit": row.commit, "pushed_to": remote or None})
    where = f" and pushed to {remote}" if remote else " (no remote to push to)"
    return f"{p.name}: cut {name} ({row.commit[:7]}){where}" + (f"; {moved}" if moved else "")


def tagged_text(row: ReleaseRow) -> str:
    """``tagged v1.4.0 (abc1234) and pushed to origin`` for the thread and the channel."""
    where = f" and pushed to {row.tag_remote}" if row.tag_remote else " (no remote to push to)"
    return f"{row.product}: tagged {row.tag_name} ({row.commit[:7]}){where}"


def advance(svc: Services, row: ReleaseRow, actor: str) -> tuple[ReleaseRow, str | None]:
    """Move to the next step when the gating checks pass on the candidate commit (re-resolved
    from the ref first); else Refused with the reason. Returns the row and, when the candidate
    moved, a sentence saying so."""
    if row.status != "active":
        raise Refused(f"{row.product} {row.version} is {row.status}")
    row, moved = rs.recheck(svc, row)
    note = f" ({moved})" if moved else ""
    block = rs.blockers(svc, row)
    text = "; ".join(f"{c} {ck.NAMES[c]} is {r}{_why(row, c)} — cleared by {w}"
                     for c, r, w in block)
    if moved and row.step == "Execution":
        _refuse_moved(svc, row, moved, text)
    if block:
        svc.audit.append(actor, "release.advance.blocked", rs.subject(row), {
            "step": row.step, "blocked_by": [b[0] for b in block], "commit": row.commit})
        raise Refused(f"cannot leave {row.step}: {text}{note}", gate=row.step)
    i = ck.STEPS.index(row.step)
    now = iso(svc.clock.now())
    if i + 1 == len(ck.STEPS):
        nxt, status = "Released", "released"
    else:
        nxt, status = ck.STEPS[i + 1], "active"
    fr = svc.locks.frozen(row.product) if nxt in rs.SHIPPING else None
    if fr:
        svc.audit.append(actor, "release.advance.blocked", rs.subject(row), {
            "step": row.step, "frozen": fr.reason})
        raise Refused(f"{fr.describe()}. {row.product} {row.version} stays at {row.step} "
                      f"until then (it may not enter {nxt}).", gate=row.step)
    if nxt == "Post-Release":
        tag(svc, row, actor)
    if not rs.store(svc).move(row.id, row.step, nxt, now, status):
        raise Refused(f"{row.product} {row.version} moved meanwhile; try again")
    svc.audit.append(actor, "release.advance", rs.subject(row), {
        "from": row.step, "to": nxt, "commit": row.commit})
    new = rs.store(svc).get(row.id)
    if nxt == "RC" and rs.product(svc, row.product).prepare:
        done = _prepare(svc, new, actor)  # type: ignore[arg-type]
        moved = "; ".join(x for x in (moved, done) if x) or None
        new = rs.run_auto(svc, rs.store(svc).get(row.id))  # type: ignore[arg-type]
    return new, moved  # type: ignore[return-value]


def _why(row: ReleaseRow, cid: str) -> str:
    """`` (first line of the check's evidence)`` for a blocker, or ''."""
    ev = (row.checks[cid].evidence or "").strip()
    return f" ({ev.splitlines()[0][:140]})" if ev else ""


def _refuse_moved(svc: Services, row: ReleaseRow, moved: str, blocked: str) -> None:
    """Leaving Execution after the ref moved: refused, saying what the next advance does on
    the new candidate (ships it, or what still blocks it there)."""
    sha = row.commit[:7]
    if rs.product(svc, row.product).tag:
        head = f"not tagging {tag_name(row)}: {moved}. Tagging needs the commit the checks " \
               "passed on"
        then = f"`/release advance` again tags {sha}"
    else:
        head = f"{row.product} {row.version} stays at Execution: {moved}"
        then = f"`/release advance` again ships {sha}"
    if blocked:
        then = f"before {sha} ships: {blocked}"
    raise Refused(f"{head}; {then}", gate=row.step)


def _prepare(svc: Services, row: ReleaseRow, actor: str) -> str | None:
    """``prepare: true`` on entering RC; a failure is said, the step stays moved."""
    from bot.release.prepare import prepare

    try:
        return prepare(svc, row, actor)
    except (Refused, CommandFailed) as exc:
        svc.audit.append(actor, "release.prepare.failed", rs.subject(row), {"error": str(exc)})
        return f"preparing the release commit failed: {exc}; `/release prepare` retries"
