"""Tags on exactly the checked commit: the release's own ``vX.Y.Z`` when it leaves Execution
(:func:`bot.release.steps.advance` records it) and ``vX.Y.Z-rc.N`` at the RC step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.errors import CommandFailed, Refused
from bot.git import git
from bot.release import service as rs
from bot.release import version as vs
from storage.release import ReleaseRow

if TYPE_CHECKING:
    from bot.services import Services


def tag_name(row: ReleaseRow) -> str:
    """The release's tag: ``vX.Y.Z``."""
    return f"v{row.version}"


def tag(svc: Services, row: ReleaseRow, actor: str) -> tuple[str, str, str] | None:
    """Create annotated ``vX.Y.Z`` on the candidate commit and push it to the repo's first
    remote: ``(name, tag object, remote)``, or None when the product does not tag. Called
    once the advance's gate holds (the checks passed on exactly this commit and the ref still
    points at it); a failure is audited and refused, and nothing is kept."""
    p = rs.product(svc, row.product)
    if not p.tag:
        return None
    name = tag_name(row)
    try:
        obj, remote = make_tag(p, name, row.commit,
                               f"{p.name} {row.version}\n\nrelbot release {rs.subject(row)}")
    except Refused as exc:
        svc.audit.append(actor, "release.tag.failed", rs.subject(row), {
            "tag": name, "commit": row.commit, "error": str(exc)})
        raise
    return name, obj, remote


def record(svc: Services, row: ReleaseRow, actor: str, name: str, obj: str,
           remote: str) -> None:
    """Store and audit the pushed tag (inside the advance's transaction)."""
    rs.store(svc).set_tag(row.id, name, obj, remote)
    svc.audit.append(actor, "release.tag", rs.subject(row), {
        "tag": name, "tag_object": obj, "commit": row.commit, "pushed_to": remote or None})


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
