"""Which version a rollback goes back to: the last known good release (tags in the product's
repo and the releases relbot finished), skipping versions earlier rollbacks moved away from."""

from __future__ import annotations

from typing import TYPE_CHECKING

import semver

from bot.errors import Refused, RelbotError, UsageError
from bot.release import version as vs
from bot.release.service import store as release_store
from bot.rollback.config import ProductRollback
from storage.rollback import RollbackRow

if TYPE_CHECKING:
    from bot.services import Services


def _known_versions(svc: Services, product: str, p: ProductRollback) -> tuple[list[semver.Version],
                                                                          str]:
    cfg = svc.config.current
    found: list[semver.Version] = []
    sources = []
    rel = cfg.releases.product(product) if cfg.releases else None
    repo = p.repo or (rel.repo if rel else None)
    if repo:
        path = cfg.resolve_path(repo)
        try:
            found += vs.tags(path)
            sources.append(f"tags in {repo}" if repo.strip("./") else
                           "tags in the repo beside the config")
        except RelbotError:  # not a git repo: the release records may still know
            pass
    found += [vs.parse(v) for v in release_store(svc).released(product)]
    sources.append("release records")
    return sorted(set(found)), " and ".join(sources)


WHOLE = ("immediate", "planned")  # partial and config rollbacks leave the product's version


def _version(text: str | None) -> semver.Version | None:
    try:
        return semver.Version.parse((text or "").lstrip("v"))
    except ValueError:
        return None


def _rolled_back(done: list[RollbackRow], versions: list[semver.Version]) -> dict[str, str]:
    """Versions earlier whole rollbacks went back over (after the target, up to the bad
    version): version -> the first rollback that did."""
    out: dict[str, str] = {}
    for r in done:
        frm, to = _version(r.record.from_version), _version(r.record.to_version)
        if r.kind not in WHOLE or frm is None:
            continue
        out.setdefault(str(frm), r.id)
        for v in versions:
            if to is not None and to < v <= frm:
                out.setdefault(str(v), r.id)
    return out


def _rolled_back_to(done: list[RollbackRow]) -> list[semver.Version]:
    """The version the last completed whole rollback left running (if any)."""
    whole = [_version(r.record.to_version) for r in done if r.kind in WHOLE]
    return [whole[-1]] if whole and whole[-1] is not None else []


def target_versions(svc: Services, product: str, p: ProductRollback, bad: str | None,
                    to: str | None, done: list[RollbackRow],
                    config: bool = False) -> tuple[str, str, str]:
    """(from_version, to_version, why): the last known good release before ``bad`` (by
    default the newest release not already rolled back), skipping versions the product's
    completed rollbacks ``done`` moved away from. A ``config`` rollback may bring the config
    back to the running version (``to=v1.3.0`` after the code went back to 1.3.0)."""
    versions, where = _known_versions(svc, product, p)
    rolled = _rolled_back(done, versions)
    final = [v for v in versions if not v.prerelease and str(v) not in rolled]
    running = final + _rolled_back_to(done)
    current = bad or (str(max(running)) if running else "")
    try:
        cur = semver.Version.parse(current) if current else None
    except ValueError:
        raise UsageError(f"version {current!r} is not MAJOR.MINOR.PATCH") from None
    if bad and versions and cur not in versions and not to:
        raise Refused(f"{bad} is not a known release of {product} (looked at {where}); check "
                      "the version, or name the target yourself with to=VERSION")
    if to:
        target = to.lstrip("v")
        try:
            to_v = semver.Version.parse(target)
            newer = cur is not None and (to_v > cur if config else to_v >= cur)
        except ValueError:  # a git ref (type=config): nothing to compare
            newer = False
        if newer:
            raise Refused(f"to={to} is not older than {current}: a rollback goes back to an "
                          "earlier release (ship a fix forward with /release instead)")
        return current or "unknown", target, "to= given by the requester"
    earlier = [v for v in final if cur is None or v < cur]
    skipped = [f"{v} (rolled back by {rid})" for v, rid in sorted(rolled.items())
               if cur is None or _older(v, cur)]
    skip = f"; skipped {', '.join(skipped)}" if skipped else ""
    if not earlier:
        raise Refused(f"no release of {product} before {current or 'now'} is known (looked at "
                      f"{where}{skip}); say which version to roll back to with to=VERSION")
    why = f"last known good release before {current}, from {where}{skip}"
    return current, str(earlier[-1]), why


def _older(v: str, than: semver.Version) -> bool:
    """``v`` is a version older than ``than`` (False for anything else)."""
    parsed = _version(v)
    return parsed is not None and parsed < than
