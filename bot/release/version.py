"""Semantic versions: parsing, precedence, bump proposals from Conventional Commits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import semver

from bot.errors import CommandFailed, RelbotError, UsageError
from bot.git import git

BUMPS = ("major", "minor", "patch")
STAGES = ("alpha", "beta", "rc")
CADENCE = {"major": "quarterly", "minor": "bi-weekly", "patch": "as needed"}
STABILITY = {"alpha": "unstable, internal only; features may still change",
             "beta": "feature-complete; for wider testing, bugs expected",
             "rc": "release candidate; only fixes from here on",
             "final": "stable"}
_CC = re.compile(r"^(?P<type>[a-z]+)(?:\([^)]*\))?(?P<bang>!)?:\s*(?P<subject>.+)$")
SEP = "\x1f"


class VersionError(RelbotError):
    """A version is malformed or does not exceed the last release."""


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    subject: str
    body: str = ""

    @property
    def kind(self) -> str:
        """Conventional-commit type (``feat``, ``fix``...), ``breaking`` or ``other``."""
        m = _CC.match(self.subject)
        if self.breaking:
            return "breaking"
        return m.group("type") if m else "other"

    @property
    def breaking(self) -> bool:
        m = _CC.match(self.subject)
        return bool((m and m.group("bang")) or "BREAKING CHANGE:" in self.body
                    or "BREAKING-CHANGE:" in self.body)

    @property
    def type(self) -> str:
        """The Conventional Commits type (``feat`` also for ``feat!:``), or ``other``."""
        m = _CC.match(self.subject)
        return m.group("type") if m else "other"

    @property
    def title(self) -> str:
        m = _CC.match(self.subject)
        return m.group("subject") if m else self.subject


def parse(text: str) -> semver.Version:
    """Parse ``1.2.3`` / ``v1.2.3-rc.1``; raise VersionError naming the value."""
    try:
        return semver.Version.parse(text[1:] if text.startswith("v") else text)
    except (ValueError, TypeError):
        raise VersionError(f"version {text!r} is not MAJOR.MINOR.PATCH[-PRE][+BUILD]") from None


def tags(repo: str | Path) -> list[semver.Version]:
    """Release versions tagged ``vX.Y.Z`` in ``repo``, ascending."""
    out = []
    for t in git("tag", "--list", "v*", cwd=repo).split():
        try:
            out.append(semver.Version.parse(t[1:]))
        except ValueError:
            continue
    return sorted(out)


def last_release(repo: str | Path, recorded: list[str] = ()) -> semver.Version | None:
    """The greatest of the repo's ``v*`` tags and ``recorded`` (finished releases)."""
    vs = tags(repo) + [parse(r) for r in recorded]
    return max(vs) if vs else None


def last_tag(repo: str | Path, before: semver.Version | None = None,
             final_only: bool = False) -> str | None:
    """The greatest ``v*`` tag (lower than ``before`` when given; finals only if asked)."""
    vs = [v for v in tags(repo) if (before is None or v < before)
          and not (final_only and v.prerelease)]
    return f"v{max(vs)}" if vs else None


def stage(v: semver.Version) -> str:
    """``alpha``/``beta``/``rc`` of a pre-release, ``final`` otherwise."""
    return v.prerelease.split(".")[0] if v.prerelease else "final"


def _number(v: semver.Version) -> int:
    parts = (v.prerelease or "").split(".")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def target_of(last: semver.Version | None, taken: list[semver.Version],
              bump: str) -> semver.Version:
    """The final version being prepared: the one a pre-release in progress leads to (one
    greater than the last final release), else ``bump`` applied to the last final release."""
    finals = [v for v in taken if not v.prerelease]
    last_final = max(finals) if finals else None
    floor = last_final or semver.Version(0, 0, 0)
    line = [v for v in taken if v.prerelease and v.finalize_version() > floor]
    if line:
        return max(line).finalize_version()
    base = last_final or (last.finalize_version() if last else None)
    return next_version(base, bump) if base else next_version(None, bump)


def prerelease(how: str, target: semver.Version, taken: list[semver.Version]) -> semver.Version:
    """The next ``target-how.N``: N after every taken (tagged, released, aborted)
    ``target-how.*``; going back a stage (beta after rc) is refused."""
    if how not in STAGES:
        raise UsageError(f"{how!r} is not alpha|beta|rc")
    if target in taken:
        raise VersionError(f"{target} is already released; a pre-release of it would be older")
    same = [v for v in taken if v.prerelease and v.finalize_version() == target
            and stage(v) in STAGES]
    later = [v for v in same if STAGES.index(stage(v)) > STAGES.index(how)]
    if later:
        raise VersionError(f"cannot go back from {stage(max(later))} to {how} ({max(later)})")
    n = max((_number(v) for v in same if stage(v) == how), default=0) + 1
    return target.replace(prerelease=f"{how}.{n}", build=None)


def commits(repo: str | Path, since: str | None, ref: str = "HEAD") -> list[Commit]:
    """Commits in ``since..ref`` (all of ``ref`` when no tag), oldest first."""
    rng = f"{since}..{ref}" if since else ref
    try:
        out = git("log", "--reverse", f"--format=%H{SEP}%an{SEP}%s{SEP}%b\x1e", rng, cwd=repo)
    except CommandFailed as exc:
        raise VersionError(f"cannot read commits {rng} in {repo}: {exc}") from None
    res = []
    for rec in out.split("\x1e"):
        rec = rec.strip("\n")
        if rec:
            sha, author, subject, body = (rec.split(SEP) + ["", "", ""])[:4]
            res.append(Commit(sha, author, subject, body))
    return res


def propose_bump(cs: list[Commit]) -> tuple[str | None, list[str]]:
    """The bump the commits call for and why (``None`` when nothing releasable)."""
    rank = {"major": 3, "minor": 2, "patch": 1}
    best, reasons = None, []
    for c in cs:
        kind = "major" if c.breaking else {"feat": "minor", "fix": "patch", "perf": "patch",
                                           "docs": "patch"}.get(c.kind)
        if kind is None:
            continue
        if best is None or rank[kind] > rank[best]:
            best, reasons = kind, []
        if kind == best:
            reasons.append(f"{c.sha[:7]} {c.subject}")
    return best, reasons


def next_version(last: semver.Version | None, how: str) -> semver.Version:
    """The version after ``last`` for ``major|minor|patch|alpha|beta|rc|final`` or X.Y.Z."""
    base = last or semver.Version(0, 0, 0)
    if how in BUMPS:
        if last is not None and last.prerelease and how == "patch":
            return base.finalize_version()
        return base.next_version(part=how)
    if how in STAGES or how == "final":
        if not base.prerelease:
            if how == "final":
                raise VersionError(f"last release {base} is already final")
            return semver.Version(base.major, base.minor + 1, 0, f"{how}.1")
        stage = base.prerelease.split(".")[0]
        if how == "final":
            return base.finalize_version()
        if stage not in STAGES:
            raise VersionError(f"pre-release {base.prerelease!r} is not alpha/beta/rc")
        if STAGES.index(how) < STAGES.index(stage):
            raise VersionError(f"cannot go back from {stage} to {how} ({base})")
        if how == stage:
            return base.bump_prerelease()
        return base.replace(prerelease=f"{how}.1", build=None)
    return parse(how)


def check_greater(new: semver.Version, last: semver.Version | None, product: str) -> None:
    """Raise VersionError unless ``new`` is greater than ``last``."""
    if last is not None and new.compare(last) <= 0:
        raise VersionError(
            f"version {new} must be greater than the last release {last} of {product}")


def cadence(new: semver.Version, last: semver.Version | None) -> str:
    """``major``/``minor``/``patch`` release type and its cadence."""
    if last is None:
        return "patch" if new.patch else "minor" if new.minor else "major"
    kind = "patch"
    if new.major > last.major:
        kind = "major"
    elif new.minor > last.minor:
        kind = "minor"
    return kind


def bump_kind_or_usage(word: str) -> str:
    """Validate a ``/release start`` bump word or version."""
    if word in BUMPS or word in STAGES or word == "final":
        return word
    try:
        parse(word)
    except VersionError:
        raise UsageError(f"{word!r} is not major|minor|patch|alpha|beta|rc|final or a version") \
            from None
    return word
