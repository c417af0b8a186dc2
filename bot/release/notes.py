"""Release notes from commits: Markdown and structured YAML with provenance."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from bot.release.version import Commit

SECTIONS = ("Highlights", "Features", "Improvements", "Fixes", "Breaking Changes")
_KIND = {"feat": "Features", "fix": "Fixes", "perf": "Improvements", "refactor": "Improvements",
         "docs": "Improvements", "breaking": "Breaking Changes"}


def group(commits: list[Commit]) -> dict[str, list[Commit]]:
    """Group commits; Highlights = breaking changes and features (first five)."""
    out: dict[str, list[Commit]] = {s: [] for s in SECTIONS}
    for c in commits:
        sec = _KIND.get(c.kind)
        if sec:
            out[sec].append(c)
    out["Highlights"] = (out["Breaking Changes"] + out["Features"])[:5]
    return out


def markdown(product: str, version: str, groups: dict[str, list[Commit]]) -> str:
    lines = [f"# {product} {version}", ""]
    for sec in SECTIONS:
        lines += [f"## {sec}", ""]
        items = groups[sec]
        lines += [f"- {c.title} ({c.sha[:7]}, {c.author})" for c in items] or ["- none"]
        lines.append("")
    return "\n".join(lines)


def structured(product: str, version: str, since: str | None, ref: str,
               groups: dict[str, list[Commit]], generated_at: str) -> str:
    data = {
        "product": product, "version": version, "from": since or "(first commit)", "to": ref,
        "generated_at": generated_at,
        "sections": {sec: [{"title": c.title, "sha": c.sha, "author": c.author,
                            "subject": c.subject} for c in groups[sec]] for sec in SECTIONS},
    }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write(out_dir: Path, version: str, md: str, yml: str) -> tuple[Path, Path, str]:
    """Write ``vX.Y.Z.md`` and ``vX.Y.Z.yaml``; return paths and the sha256 of both."""
    out_dir.mkdir(parents=True, exist_ok=True)
    mdp, ymp = out_dir / f"v{version}.md", out_dir / f"v{version}.yaml"
    mdp.write_text(md)
    ymp.write_text(yml)
    digest = hashlib.sha256((md + "\0" + yml).encode()).hexdigest()
    return mdp, ymp, digest
