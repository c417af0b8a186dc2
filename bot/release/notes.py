"""Release notes from commits: Markdown and structured YAML with provenance for every entry.

Every commit in the range is accounted for: Conventional Commits by type, breaking changes
(``type!:`` or a ``BREAKING CHANGE:`` footer, whose text is the migration note) in their own
section, anything that is not a Conventional Commit under "Other changes". Housekeeping types
(``chore``, ``test``, ``ci``, ``build``, ``style``) stay out of the Markdown but are listed in
the YAML as excluded, with the reason."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.release.version import Commit

SECTIONS = ("Highlights", "Breaking changes", "Features", "Fixes", "Improvements",
            "Other changes")
_KIND = {"feat": "Features", "fix": "Fixes", "perf": "Improvements", "refactor": "Improvements",
         "docs": "Improvements", "revert": "Fixes"}
HOUSEKEEPING = ("chore", "test", "ci", "build", "style")
_CC = re.compile(r"^(?P<type>[a-z]+)(?:\((?P<scope>[^)]*)\))?(?P<bang>!)?:\s*(?P<subject>.+)$")
_FOOTER = re.compile(r"^(?P<key>BREAKING[ -]CHANGE|[A-Za-z][\w-]*)(?::\s|\s#)(?P<value>.*)$")


@dataclass(frozen=True)
class Entry:
    """One line of the notes and why it is there."""

    commit: Commit
    section: str
    why: str
    note: str = ""          # the breaking-change footer text


def scope(c: Commit) -> str:
    """The Conventional Commits scope of ``c`` (``feat(api): ...`` -> ``api``), or ''."""
    m = _CC.match(c.subject)
    return (m.group("scope") or "") if m else ""


def footers(body: str) -> dict[str, str]:
    """Git-trailer style footers of a commit body (a value continues on indented or plain
    lines until the next footer or a blank line)."""
    out: dict[str, str] = {}
    key = None
    for line in body.splitlines():
        m = _FOOTER.match(line)
        if m:
            key = "BREAKING CHANGE" if m.group("key").startswith("BREAKING") else m.group("key")
            out[key] = (out[key] + "\n" if key in out else "") + m.group("value").strip()
        elif key and line.strip():
            out[key] += " " + line.strip()
        else:
            key = None
    return out


def labels(c: Commit) -> set[str]:
    """Labels named in ``Label:``/``Labels:`` footers (comma-separated)."""
    f = footers(c.body)
    raw = ",".join(v for k, v in f.items() if k.lower() in ("label", "labels"))
    return {x.strip() for x in raw.split(",") if x.strip()}


def classify(c: Commit) -> Entry | None:
    """The section of one commit (None for housekeeping, which the YAML lists apart)."""
    m = _CC.match(c.subject)
    if c.breaking:
        note = footers(c.body).get("BREAKING CHANGE", "")
        why = "BREAKING CHANGE footer" if note else f"{m.group('type') if m else ''}! marker"
        return Entry(c, "Breaking changes", why, note or c.title)
    if not m:
        return Entry(c, "Other changes", "not a Conventional Commit")
    sec = _KIND.get(m.group("type"))
    if sec:
        return Entry(c, sec, f"type {m.group('type')}")
    if m.group("type") in HOUSEKEEPING:
        return None
    return Entry(c, "Other changes", f"type {m.group('type')} has no section")


def group(commits: list[Commit], highlight_scopes: Iterable[str] = (),
          highlight_labels: Iterable[str] = ()) -> dict[str, list[Entry]]:
    """Entries by section; Highlights = every breaking change plus the commits whose scope or
    label is configured as a highlight. ``excluded`` holds housekeeping commits."""
    out: dict[str, list[Entry]] = {s: [] for s in (*SECTIONS, "excluded")}
    hs, hl = set(highlight_scopes), set(highlight_labels)
    for c in commits:
        e = classify(c)
        if e is None:
            out["excluded"].append(Entry(c, "excluded", f"housekeeping ({c.type})"))
            continue
        out[e.section].append(e)
        if e.section == "Breaking changes":
            out["Highlights"].append(Entry(c, "Highlights", "breaking change", e.note))
        elif scope(c) in hs:
            out["Highlights"].append(Entry(c, "Highlights", f"scope {scope(c)} is a highlight"))
        elif labels(c) & hl:
            out["Highlights"].append(Entry(c, "Highlights", "label " + ", ".join(
                sorted(labels(c) & hl)) + " is a highlight"))
    return out


def _line(e: Entry) -> str:
    head = f"- {e.commit.title} ({e.commit.sha[:7]}, {e.commit.author})"
    if e.note and e.section == "Breaking changes" and e.note != e.commit.title:
        return head + "\n" + "\n".join(f"  {x}" for x in e.note.splitlines())
    return head


def markdown(product: str, version: str, groups: dict[str, list[Entry]]) -> str:
    """The notes as Markdown: Features, Fixes and Improvements always (``- none`` when
    empty), Highlights, Breaking changes and Other changes only when they have entries."""
    lines = [f"# {product} {version}", ""]
    for sec in SECTIONS:
        items = groups[sec]
        if sec in ("Highlights", "Breaking changes", "Other changes") and not items:
            continue
        lines += [f"## {sec}", ""]
        lines += [_line(e) for e in items] or ["- none"]
        lines.append("")
    return "\n".join(lines)


def _entry(e: Entry) -> dict[str, object]:
    d: dict[str, object] = {"title": e.commit.title, "sha": e.commit.sha,
                            "author": e.commit.author, "subject": e.commit.subject,
                            "type": e.commit.type, "scope": scope(e.commit) or None,
                            "why": e.why}
    if e.note:
        d["breaking_change"] = e.note
    return d


def structured(product: str, version: str, since: str | None, ref: str,
               groups: dict[str, list[Entry]], generated_at: str) -> str:
    """The notes as YAML with every entry's provenance (sha, author, type, scope, why)."""
    data = {
        "product": product, "version": version, "from": since or "(first commit)", "to": ref,
        "generated_at": generated_at,
        "sections": {sec: [_entry(e) for e in groups[sec]] for sec in SECTIONS},
        "excluded": [_entry(e) for e in groups["excluded"]],
    }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write(out_dir: Path, version: str, md: str, yml: str) -> tuple[Path, Path, str]:
    """Write ``vX.Y.Z.md`` and ``vX.Y.Z.yaml``; return paths and the sha256 of both."""
    out_dir.mkdir(parents=True, exist_ok=True)
    mdp, ymp = out_dir / f"v{version}.md", out_dir / f"v{version}.yaml"
    mdp.write_text(md)
    ymp.write_text(yml)
    return mdp, ymp, digest(md, yml)


def digest(md: str, yml: str) -> str:
    """SHA-256 over both notes files (what RL-08 and the evidence record name)."""
    return hashlib.sha256((md + "\0" + yml).encode()).hexdigest()
