"""What the code hosts report, and how RL-01 / RL-02 are decided from it (host-neutral)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

ChangeState = Literal["open", "merged", "closed"]
CheckState = Literal["success", "neutral", "skipped", "failure", "pending"]


@dataclass(frozen=True)
class Change:
    """A pull request (GitHub) or merge request (GitLab) of the release."""

    number: int
    title: str
    author: str
    url: str
    state: ChangeState
    merge_sha: str | None = None

    def line(self) -> str:
        return f"#{self.number} {self.title} by {self.author} <{self.url}>"


@dataclass(frozen=True)
class CheckRun:
    """One check run, commit status, pipeline or job reported for a commit."""

    name: str
    state: CheckState
    conclusion: str
    """The host's own word (``timed_out``, ``canceled``...)."""
    url: str
    commit: str
    kind: str = "check_run"


@dataclass(frozen=True)
class Decision:
    """A provider's answer for one check: ``pass``, ``fail`` or ``waiting`` (decided later,
    re-run by ``/release check`` and on a schedule), the text people read and the structured
    evidence."""

    result: Literal["pass", "fail", "waiting"]
    evidence: str
    details: dict[str, Any] = field(default_factory=dict)
    recheck_at: datetime | None = None


class CodeHost(Protocol):
    """GitHub or GitLab for one product."""

    label: str
    """``GitHub acme/api``: said in every message."""

    def changes(self, version: str) -> tuple[list[Change], str]:
        """The release's pull requests and where they were found (``milestone 1.4.0``)."""
        ...

    def checks(self, commit: str) -> list[CheckRun]:
        """Every check reported for ``commit`` (the latest run of each name)."""
        ...

    def publish(self, tag: str, commit: str, title: str, notes: str,
                prerelease: bool) -> str:
        """Create the release for ``tag`` (or find the one that exists); returns its URL."""
        ...

    def close(self) -> None: ...


def decide_merged(label: str, changes: list[Change], where: str) -> Decision:
    """RL-01: pass when no change of the release is open; closed-unmerged ones are listed
    for information."""
    open_ = [c for c in changes if c.state == "open"]
    merged = [c for c in changes if c.state == "merged"]
    closed = [c for c in changes if c.state == "closed"]
    details = {"source": label, "where": where,
               "merged": [{"number": c.number, "merge_sha": c.merge_sha, "url": c.url}
                          for c in merged],
               "open": [asdict(c) for c in open_],
               "closed_unmerged": [{"number": c.number, "url": c.url} for c in closed]}
    parts = []
    if open_:
        parts.append(f"{len(open_)} open in {where} ({label}): "
                     + "; ".join(c.line() for c in open_))
    else:
        parts.append(f"{len(merged)} merged, none open in {where} ({label})")
    if closed:
        parts.append("closed without merging (information): "
                     + "; ".join(c.line() for c in closed))
    return Decision("fail" if open_ else "pass", ". ".join(parts), details)


def decide_gates(label: str, runs: list[CheckRun], commit: str,
                 required: tuple[str, ...] | None, accept: tuple[str, ...]) -> Decision:
    """RL-02: every required check concluded ``success`` (or an accepted ``neutral`` /
    ``skipped``) on ``commit``; any failing one fails it; otherwise pending ones wait."""
    by_name = {r.name: r for r in runs}
    names = list(required) if required is not None else sorted(by_name)
    failing, pending, passed = [], [], []
    for name in names:
        r = by_name.get(name)
        if r is None or r.state == "pending":
            pending.append(f"{name} ({'not reported yet' if r is None else r.conclusion})")
        elif r.state in accept:
            passed.append(r)
        else:
            failing.append(r)
    details = {"source": label, "commit": commit, "checks": [
        {"name": r.name, "kind": r.kind, "conclusion": r.conclusion, "url": r.url,
         "commit": r.commit} for r in (by_name[n] for n in names if n in by_name)]}
    short = commit[:10]
    if failing:
        text = (f"{len(failing)} failing on {short} ({label}): "
                + "; ".join(f"{r.name} {r.conclusion} <{r.url}>" for r in failing))
        if pending:
            text += ". Still running: " + ", ".join(pending)
        return Decision("fail", text, details)
    if pending or not names:
        what = ", ".join(pending) if pending else "no checks reported yet"
        return Decision("waiting", f"not decided yet on {short} ({label}): {what}", details)
    return Decision("pass", f"{len(passed)} passed on {short} ({label}): "
                    + ", ".join(f"{r.name} {r.conclusion}" for r in passed), details)


def render_template(template: str, product: str, version: str) -> str:
    """``{version}``-style placeholders of milestone and labels."""
    core = version.split("-", 1)[0].split("+", 1)[0].split(".")
    major, minor, patch = (core + ["", "", ""])[:3]
    return template.format(version=version, product=product, major=major, minor=minor,
                           patch=patch)


def label_filter(labels: list[str] | tuple[str, ...], product: str,
                 version: str) -> tuple[str, str]:
    """The ``labels`` query parameter (comma-separated, placeholders filled) and how it is
    described to people (``labels release-1.4, api``); GitHub and GitLab take the same."""
    filled = [render_template(x, product, version) for x in labels]
    return ",".join(filled), "labels " + ", ".join(filled)

