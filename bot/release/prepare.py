"""``prepare: true``: at the RC step relbot commits the version bump and the changelog section
drafted from the notes on the release branch — one commit, pushed, the release's evidence ID
in its message — so RL-03/RL-04 pass on that commit (what release-please's release PR does).

The commit is built in a temporary index (the working tree is not touched unless the branch
is checked out there, which is then fast-forwarded), and moves the branch only from the
candidate commit (compare-and-set), so nothing that landed meanwhile is lost."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from bot.clock import iso
from bot.errors import CommandFailed, Refused
from bot.git import git
from bot.release import checks as ck
from bot.release import notes as nt
from bot.release import service as rs
from bot.release import version as vs
from bot.release.config import Product
from storage.release import ReleaseRow

if TYPE_CHECKING:
    from bot.services import Services

_ASSIGN = re.compile(r"""(?P<pre>\bversion\s*[:=]\s*["']?)(?P<v>\d+\.\d+\.\d+[0-9A-Za-z.+-]*)""")
_BARE = re.compile(r"^\s*v?(?P<v>\d+\.\d+\.\d+[0-9A-Za-z.+-]*)\s*$")


def bump_text(text: str | None, name: str, version: str) -> str:
    """The version file with its version replaced by ``version``."""
    if text is not None:
        if _BARE.match(text):
            return f"{version}\n"
        new, n = _ASSIGN.subn(lambda m: m.group("pre") + version, text, count=1)
        if n:
            return new
    raise Refused(f"cannot prepare: no `version = \"X.Y.Z\"` (or a bare version) in {name} "
                  "to bump; bump it by hand and `/release check`")


def changelog_text(text: str | None, version: str, day: str, groups: dict) -> str:
    """The changelog with a ``## [version] - day`` section from the notes, newest first."""
    lines = [f"## [{version}] - {day}", ""]
    for sec in ("Breaking changes", "Features", "Fixes", "Improvements", "Other changes"):
        if groups[sec]:
            lines += [f"### {sec}", ""]
            for e in groups[sec]:
                lines.append(f"- {e.commit.title} ({e.commit.sha[:7]})")
                if sec == "Breaking changes" and e.note and e.note != e.commit.title:
                    lines += [f"  {x}" for x in e.note.splitlines()]
            lines.append("")
    section = "\n".join(lines)
    if not text:
        return f"# Changelog\n\n{section}"
    head, sep, rest = text.partition("\n## ")
    if sep:
        return f"{head.rstrip()}\n\n{section}\n## {rest}"
    return f"{text.rstrip()}\n\n{section}"


def branch_of(p: Product) -> str:
    """The branch the release ref names (``HEAD``: the branch checked out)."""
    ref = p.ref
    if ref == "HEAD":
        ref = git("symbolic-ref", "-q", "HEAD", cwd=p.repo, check=False).strip()
    if ref.startswith("refs/heads/"):
        return ref[len("refs/heads/"):]
    if ref and _is_branch(p, ref):
        return ref
    raise Refused(f"cannot prepare: ref {p.ref!r} of {p.name} is not a branch to commit to")


def _is_branch(p: Product, name: str) -> bool:
    try:
        git("show-ref", "--verify", "--quiet", f"refs/heads/{name}", cwd=p.repo)
    except CommandFailed:
        return False
    return True


def _commit(p: Product, base: str, files: dict[str, str], message: str) -> str:
    """A commit on ``base`` changing ``files``, built in a temporary index."""
    with tempfile.TemporaryDirectory(prefix="relbot-prepare-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git("read-tree", base, cwd=p.repo, env=env)
        for path, text in files.items():
            blob = git("hash-object", "-w", "--stdin", cwd=p.repo, input=text).strip()
            git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", cwd=p.repo,
                env=env)
        tree = git("write-tree", cwd=p.repo, env=env).strip()
    return git("commit-tree", tree, "-p", base, "-m", message, cwd=p.repo,
               env=_identity()).strip()


def _identity() -> dict[str, str]:
    """relbot commits as relbot unless the environment names someone."""
    return {k: os.environ.get(k, v) for k, v in (
        ("GIT_AUTHOR_NAME", "relbot"), ("GIT_AUTHOR_EMAIL", "relbot@localhost"),
        ("GIT_COMMITTER_NAME", "relbot"), ("GIT_COMMITTER_EMAIL", "relbot@localhost"))}


def _move(p: Product, branch: str, old: str, new: str) -> str:
    """Move ``branch`` from ``old`` to ``new`` (fast-forward the checkout if it is the one
    checked out); push it. Returns the remote pushed to ('' when none)."""
    checked_out = git("symbolic-ref", "-q", "HEAD", cwd=p.repo, check=False).strip()
    bare = git("rev-parse", "--is-bare-repository", cwd=p.repo).strip() == "true"
    if checked_out == f"refs/heads/{branch}" and not bare:
        if git("rev-parse", "HEAD", cwd=p.repo).strip() != old:
            raise Refused(f"cannot prepare: {branch} moved meanwhile")
        git("merge", "--ff-only", "--quiet", new, cwd=p.repo)
    else:
        git("update-ref", f"refs/heads/{branch}", new, old, cwd=p.repo)
    remotes = git("remote", cwd=p.repo).split()
    if remotes:
        git("push", remotes[0], f"{new}:refs/heads/{branch}", cwd=p.repo)
    return remotes[0] if remotes else ""


def prepare(svc: Services, row: ReleaseRow, actor: str) -> str | None:
    """Commit the bump + changelog section on the release branch; returns what was done, or
    None when the candidate already carries both (nothing to commit)."""
    p = rs.product(svc, row.product)
    if row.status != "active" or row.step != "RC":
        raise Refused(f"the release commit is prepared at the RC step; {row.product} "
                      f"{row.version} is at {row.step} ({row.status})")
    row, _ = rs.follow_ref(svc, row, actor)
    base = row.commit
    have_log = ck.changelog_has(ck.show(p.repo, base, p.changelog), p.changelog, row.version)
    have_ver = ck.version_file_has(ck.show(p.repo, base, p.version_file), p.version_file,
                                   row.version)
    if have_log[0] and have_ver[0]:
        return None
    ver = vs.parse(row.version)
    since = vs.last_tag(p.repo, ver, final_only=not ver.prerelease)
    groups = nt.group(vs.commits(p.repo, since, base), p.highlight_scopes, p.highlight_labels)
    files = {}
    if not have_ver[0]:
        files[p.version_file] = bump_text(ck.show(p.repo, base, p.version_file),
                                          p.version_file, row.version)
    if not have_log[0]:
        day = svc.clock.now().astimezone(svc.config.current.tz).date().isoformat()
        files[p.changelog] = changelog_text(ck.show(p.repo, base, p.changelog), row.version,
                                            day, groups)
    eid = rs.evidence_id(row)
    branch = branch_of(p)
    msg = (f"chore(release): {p.name} {row.version}\n\n"
           f"Version bump and changelog section prepared by relbot at the RC step.\n\n"
           f"Relbot-Evidence: {eid}")
    new = _commit(p, base, files, msg)
    remote = _move(p, branch, base, new)
    svc.audit.append(actor, "release.prepared", rs.subject(row), {
        "commit": new, "parent": base, "branch": branch, "files": sorted(files),
        "evidence_id": eid, "pushed_to": remote or None, "at": iso(svc.clock.now())})
    where = f" and pushed to {remote}" if remote else ""
    text = (f"{p.name}: committed {', '.join(sorted(files))} for {row.version} on {branch} "
            f"({new[:7]}, {eid}){where}")
    if row.notes_digest and row.notes_commit == base:
        # the notes were drafted for the commit relbot just built on: draft them for the
        # prepared commit too, or RL-08 would stop holding because of relbot's own commit
        rs.draft_notes(svc, row, actor)
        text += f"; notes drafted again for {new[:7]} (RL-08)"
    return text
