"""At Execution: the code host's release for the tag, with the drafted notes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.integrations import codehost
from bot.integrations.http import IntegrationError, Timing
from bot.release import service as rs
from storage.release import ReleaseRow

if TYPE_CHECKING:
    from bot.services import Services


def enabled(product: Any) -> bool:
    """The product publishes a GitHub/GitLab release (``publish_release: true``)."""
    cfg = codehost.config_of(product)
    return bool(cfg and cfg.publish_release)


def notes_text(product: Any, version: str) -> str:
    """The drafted Markdown notes of ``version`` ('' when none were drafted)."""
    out = Path(product.notes_dir)
    path = (out if out.is_absolute() else rs.repo(product) / out) / f"v{version}.md"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def publish(svc: Services, row: ReleaseRow, actor: str) -> str | None:
    """Create the release for ``v{version}`` on the product's code host (prerelease for
    alpha/beta/rc); returns the thread note, or None when the product does not publish.
    A failure is audited and said, never raised: the tag stands, and
    ``/release publish VERSION`` tries again (an existing release is found, not doubled)."""
    p = rs.product(svc, row.product)
    if not enabled(p):
        return None
    tag, prerelease = f"v{row.version}", "-" in row.version
    host = codehost.config_of(p)
    label = "GitHub" if getattr(p, "github", None) else "GitLab"
    where = getattr(host, "repo", None) or getattr(host, "project", "")
    try:
        url = codehost.publish(p, Timing(svc.clock.now, svc.clock.sleep), tag, row.commit,
                               f"{p.name} {row.version}", notes_text(p, row.version),
                               prerelease)
    except (IntegrationError, KeyError, TypeError, ValueError, AttributeError) as exc:
        error = str(exc) if isinstance(exc, IntegrationError) else \
            f"{label}: unexpected answer ({type(exc).__name__}: {exc})"
        svc.audit.append(actor, "release.publish.failed", rs.subject(row), {
            "tag": tag, "host": f"{label} {where}", "error": error})
        return (f":warning: {label} release {tag} was not created: {error}. "
                f"`/release publish {row.version}` tries again.")
    svc.audit.append(actor, "release.publish", rs.subject(row), {
        "tag": tag, "commit": row.commit, "host": f"{label} {where}", "url": url,
        "prerelease": prerelease, "notes_digest": row.notes_digest or None})
    kind = "pre-release" if prerelease else "release"
    return f":package: {label} {kind} {tag} published: {url}"
