"""``check-config`` warnings about Config rollbacks whose default ref does not exist.

Without ``to=``, a Config rollback syncs the product's config from ``v<last known good
release>`` (the release before the newest one). When the config sync's source has no such
tag, the rollback would stop at Plan; say so before anyone needs it."""

from __future__ import annotations

from typing import Any

import semver

from bot.errors import RelbotError
from bot.git import git
from bot.release import version as vs
from bot.sync.plan import resolve_repo


def default_ref(cfg: Any, product: str, repo: str | None) -> str | None:
    """``vX.Y.Z`` of the last known good release (the newest final release but one, from the
    product repo's tags), or None when it cannot be told offline."""
    rel = cfg.releases.product(product) if cfg.releases else None
    repo = repo or (rel.repo if rel else None)
    if not repo:
        return None
    try:
        finals = [v for v in vs.tags(cfg.resolve_path(repo)) if not v.prerelease]
    except (RelbotError, OSError):
        return None
    finals.sort()
    good: semver.Version | None = finals[-2] if len(finals) > 1 else None
    return f"v{good}" if good else None


def warnings(cfg: Any) -> list[str]:
    """One warning per Config rollback whose default ref is not in its sync's source."""
    out = []
    for name, p in (cfg.rollback.products.items() if cfg.rollback else ()):
        sd = cfg.sync(p.config_sync) if p.config_sync else None
        if sd is None:
            continue
        ref = default_ref(cfg, name, p.repo)
        if ref is None:
            continue
        url = resolve_repo(sd.source.repo, cfg.base_dir)
        try:
            found = git("ls-remote", "--tags", url, f"refs/tags/{ref}", timeout=30).strip()
        except (RelbotError, OSError) as exc:
            out.append(f"warning: rollback.products.{name}.config_sync: cannot read tags of "
                       f"{sd.source.repo}: {str(exc).splitlines()[0]}")
            continue
        if not found:
            out.append(f"warning: rollback.products.{name}.config_sync: the default ref {ref} "
                       f"of a config rollback (the last known good release) does not exist "
                       f"in {sd.source.repo} (sync {sd.name}); `/rollback {name} type=config` "
                       "without to= would stop at Plan")
    return out
