"""The release workflow over storage + audit (no Slack imports)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from bot.clock import iso
from bot.errors import NotFound, Refused, UsageError
from bot.git import git
from bot.groups import describe
from bot.redact import scrub_text
from bot.release import checks as ck
from bot.release import notes as nt
from bot.release import version as vs
from bot.release.config import Product
from storage.release import Conflict, ReleaseRow, ReleaseStore


def store(svc: Any) -> ReleaseStore:
    """The release store kept in ``svc.features``."""
    if "release" not in svc.features:
        svc.features["release"] = ReleaseStore(svc.db)
    return svc.features["release"]


def product(svc: Any, name: str | None) -> Product:
    """The release product ``name`` (or the default), its repo resolved against the config
    file's directory like every other path in the config."""
    return resolved_product(svc.config.current, name)


def resolved_product(config: Any, name: str | None) -> Product:
    """:func:`product` for a loaded config (CLI)."""
    cfg = config.releases
    p = cfg.product(name) if cfg else None
    if p is None:
        names = ", ".join(x.name for x in cfg.products) if cfg else ""
        raise NotFound("product", name or "(default)", f"known: {names or 'none configured'}")
    return p.model_copy(update={"repo": str(config.resolve_path(p.repo))})


def repo(p: Product) -> Path:
    return Path(p.repo)


def propose(p: Product, released: list[str] = ()) -> tuple[vs.semver.Version | None, str | None,
                                                             list[str]]:
    """Last release, proposed bump and the commits that call for it."""
    last = vs.last_release(repo(p), list(released))
    since = vs.last_tag(repo(p))
    bump, why = vs.propose_bump(vs.commits(repo(p), since, p.ref))
    return last, bump, why


def start(svc: Any, actor: str, name: str | None, how: str | None) -> tuple[ReleaseRow, str]:
    """Create a release at Feature Freeze; returns the row and a why-text."""
    p = product(svc, name)
    fr = svc.locks.frozen(p.name)
    if fr:
        raise Refused(f"{fr.describe()}. Releases of {p.name} are refused until then.")
    st = store(svc)
    last, bump, why = propose(p, st.released(p.name))
    if how is None:
        if bump is None:
            raise Refused(f"no releasable commits (feat/fix/perf/docs) in {p.name} since "
                          f"{'v' + str(last) if last else 'the first commit'}")
        how = bump
        reason = f"proposed {bump} from: " + "; ".join(why)
    else:
        reason = f"requested {how}"
    new = vs.next_version(last, vs.bump_kind_or_usage(how))
    vs.check_greater(new, last, p.name)
    kind = vs.cadence(new, last)
    sha = git("rev-parse", p.ref, cwd=repo(p)).strip()
    try:
        row = st.create(p.name, str(new), kind, ck.STEPS[0], actor, sha, iso(svc.clock.now()),
                        ck.initial(kind))
    except Conflict as exc:
        svc.audit.append(actor, "release.start.refused", f"{p.name}@{new}", {"reason": str(exc)})
        if str(exc) == f"{p.name} {new} is already aborted":  # version numbers are not reused
            raise Refused(f"cannot start {p.name} {new}: it was aborted and a version is not "
                          f"reused; start the next one: `/release start {p.name} "
                          f"{vs.next_version(new, 'patch')}`") from None
        raise Refused(f"cannot start {p.name} {new}: {exc} (one active release per product)")\
            from None
    svc.audit.append(actor, "release.start", subject(row), {
        "version": row.version, "bump": kind, "cadence": vs.CADENCE[kind], "commit": sha,
        "last": str(last) if last else None, "why": reason})
    return row, reason


def subject(row: ReleaseRow) -> str:
    return f"{row.product}@{row.version}"


def find(svc: Any, version: str | None, product_name: str | None = None) -> ReleaseRow:
    if version and version.startswith("v"):
        version = version[1:]
    row = store(svc).find(product_name, version)
    if row is None:
        raise NotFound("release", version or "(active)", "start one with /release start")
    return row


def _record(svc: Any, row: ReleaseRow, cid: str, result: str, actor: str, evidence: str) -> None:
    evidence = scrub_text(evidence, svc.config.current.secrets)
    e = svc.audit.append(actor, "release.check", subject(row),
                         {"check": cid, "result": result, "evidence": evidence})
    store(svc).set_check(row.id, cid, result, actor, e.ts, evidence, e.seq)


def run_auto(svc: Any, row: ReleaseRow, actor: str = "relbot") -> ReleaseRow:
    """Decide every builtin/command check that is not already done."""
    p = product(svc, row.product)
    for cid, c in row.checks.items():
        if c.result in ("waived", "n/a") or (c.result == "pass" and c.actor != "relbot"):
            continue
        m = ck.mode(p, cid)
        if m == "command":
            ok, ev = ck.run_command(p.checks[cid], repo(p), p.check_timeout)
        elif cid == "RL-03":
            ok, ev = ck.changelog_has(repo(p) / p.changelog, row.version)
        elif cid == "RL-04":
            ok, ev = ck.version_file_has(repo(p) / p.version_file, row.version)
        elif cid == "RL-08":
            ok = bool(row.notes_digest)
            ev = f"notes sha256 {row.notes_digest}" if ok else "notes not drafted"
        else:
            continue
        result = "pass" if ok else ("pending" if cid == "RL-08" else "fail")
        if c.result != result or c.evidence != ev:
            _record(svc, row, cid, result, "relbot", ev)
    return store(svc).get(row.id)  # type: ignore[return-value]


def may_confirm(svc: Any, row: ReleaseRow, cid: str, user: str) -> str | None:
    """Why ``user`` may not confirm ``cid`` (None when allowed)."""
    allowed = svc.config.current.permissions.release
    if not svc.groups.allowed(user, allowed):
        return f"confirming {cid} is limited to {describe(allowed)}"
    if cid == "RL-06" and user == row.starter:
        return f"RL-06 must be confirmed by someone other than the release starter <@{user}>"
    return None


def who_can_clear(svc: Any, row: ReleaseRow, cid: str) -> str:
    p = product(svc, row.product)
    m = ck.mode(p, cid)
    if m == "command":
        return f"the bot (`{' '.join(p.checks[cid])}` must exit 0; `/release check`)"
    if cid == "RL-08":
        return "anyone running `/release notes`"
    if m == "builtin":
        return {"RL-03": f"update {p.changelog}", "RL-04": f"bump {p.version_file}"}[cid] + \
            " then `/release check`"
    who = describe(svc.config.current.permissions.release)
    if cid == "RL-06":
        who += f" except the starter <@{row.starter}>"
    return f"{who} (Confirm button or `/release waive {cid} reason`)"


def confirm(svc: Any, row: ReleaseRow, cid: str, user: str, waive_reason: str = "") -> None:
    """Confirm (or waive with a reason) a check; refused for unauthorised users."""
    if cid not in ck.NAMES:
        raise UsageError(f"unknown check {cid!r}; expected RL-01..RL-08")
    if row.status != "active":
        raise Refused(f"{row.product} {row.version} is {row.status}")
    if row.checks[cid].result == "n/a":
        raise Refused(f"{cid} is not applicable to a {row.bump} release")
    why = may_confirm(svc, row, cid, user)
    if why:
        svc.audit.append(user, "release.check.refused", subject(row), {"check": cid,
                                                                        "reason": why})
        raise Refused(why)
    if waive_reason:
        _record(svc, row, cid, "waived", user, f"waived: {waive_reason}")
    else:
        if ck.mode(product(svc, row.product), cid) != "manual":
            raise Refused(f"{cid} is decided by the bot; waive it with a reason instead")
        _record(svc, row, cid, "pass", user, "confirmed in Slack")


def blockers(svc: Any, row: ReleaseRow) -> list[tuple[str, str, str]]:
    """(check, result, who can clear it) for each check gating the current step."""
    return [(cid, row.checks[cid].result, who_can_clear(svc, row, cid))
            for cid in ck.gating(row.step) if row.checks[cid].result not in ck.DONE]


SHIPPING = ("Execution", "Post-Release")
"""Steps a frozen product (e.g. locked after a rollback) may not enter; a release already at
Post-Release has shipped and may still be closed."""


def lock_note(svc: Any, row: ReleaseRow) -> str | None:
    """For an active release of a frozen product: the lock and what it holds back."""
    if row.status != "active" or row.step not in ck.STEPS:
        return None
    later = ck.STEPS[ck.STEPS.index(row.step) + 1:]
    held = next((s for s in SHIPPING if s in later), None)
    fr = svc.locks.frozen(row.product) if held else None
    if fr is None:
        return None
    return f"{fr.describe()}. {row.product} {row.version} will not enter {held} until then."


def advance(svc: Any, row: ReleaseRow, actor: str) -> ReleaseRow:
    """Move to the next step when the gating checks pass; else Refused with the reason."""
    if row.status != "active":
        raise Refused(f"{row.product} {row.version} is {row.status}")
    row = run_auto(svc, row)
    block = blockers(svc, row)
    if block:
        text = "; ".join(f"{c} {ck.NAMES[c]} is {r} — cleared by {w}" for c, r, w in block)
        svc.audit.append(actor, "release.advance.blocked", subject(row), {
            "step": row.step, "blocked_by": [b[0] for b in block]})
        raise Refused(f"cannot leave {row.step}: {text}", gate=row.step)
    i = ck.STEPS.index(row.step)
    now = iso(svc.clock.now())
    if i + 1 == len(ck.STEPS):
        nxt, status = "Released", "released"
    else:
        nxt, status = ck.STEPS[i + 1], "active"
    fr = svc.locks.frozen(row.product) if nxt in SHIPPING else None
    if fr:
        svc.audit.append(actor, "release.advance.blocked", subject(row), {
            "step": row.step, "frozen": fr.reason})
        raise Refused(f"{fr.describe()}. {row.product} {row.version} stays at {row.step} "
                      f"until then (it may not enter {nxt}).", gate=row.step)
    if nxt == "Post-Release":
        tag(svc, row, actor)
    if not store(svc).move(row.id, row.step, nxt, now, status):
        raise Refused(f"{row.product} {row.version} moved meanwhile; try again")
    svc.audit.append(actor, "release.advance", subject(row), {"from": row.step, "to": nxt})
    return store(svc).get(row.id)  # type: ignore[return-value]


def tag(svc: Any, row: ReleaseRow, actor: str) -> str | None:
    """Create (and push, if the repo has a remote) annotated ``vX.Y.Z`` when enabled."""
    p = product(svc, row.product)
    if not p.tag:
        return None
    name = f"v{row.version}"
    if git("tag", "--list", name, cwd=repo(p)).strip():
        raise Refused(f"tag {name} already exists in {p.name}; not overwriting it")
    git("tag", "-a", name, "-m", f"{p.name} {row.version}", row.commit, cwd=repo(p))
    remotes = git("remote", cwd=repo(p)).split()
    if remotes:
        git("push", remotes[0], f"refs/tags/{name}", cwd=repo(p))
    svc.audit.append(actor, "release.tag", subject(row), {
        "tag": name, "commit": row.commit, "pushed_to": remotes[0] if remotes else None})
    return name


def abort(svc: Any, row: ReleaseRow, actor: str, reason: str) -> ReleaseRow:
    if not reason:
        raise UsageError("usage: /release abort VERSION reason")
    if not store(svc).move(row.id, row.step, row.step, iso(svc.clock.now()), "aborted", reason):
        raise Refused(f"{row.product} {row.version} is {row.status}, nothing to abort")
    svc.audit.append(actor, "release.abort", subject(row), {"step": row.step, "reason": reason})
    return store(svc).get(row.id)  # type: ignore[return-value]


def draft_notes(svc: Any, row: ReleaseRow, actor: str) -> tuple[str, Path, Path]:
    """Write the notes files, record the digest, re-run RL-08; returns the Markdown."""
    p = product(svc, row.product)
    since = vs.last_tag(repo(p), vs.parse(row.version))
    cs = vs.commits(repo(p), since, row.commit)
    groups = nt.group(cs)
    md = nt.markdown(p.name, row.version, groups)
    yml = nt.structured(p.name, row.version, since, row.commit, groups, iso(svc.clock.now()))
    out = Path(p.notes_dir)
    out = out if out.is_absolute() else repo(p) / out
    mdp, ymp, digest = nt.write(out, row.version, md, yml)
    store(svc).set_notes(row.id, digest)
    svc.audit.append(actor, "release.notes", subject(row), {
        "digest": digest, "markdown": str(mdp), "yaml": str(ymp), "commits": len(cs)})
    run_auto(svc, store(svc).get(row.id))  # type: ignore[arg-type]
    return md, mdp, ymp


def evidence(svc: Any, row: ReleaseRow) -> dict[str, Any]:
    """The evidence record: checks, approvals, steps, notes digest, audit range + hashes."""
    return {
        "version": row.version, "product": row.product, "commit": row.commit,
        "bump": row.bump, "status": row.status, "step": row.step, "starter": row.starter,
        "checks": [{"id": c.check_id, "name": ck.NAMES[c.check_id], "result": c.result,
                    "actor": c.actor, "time": c.at, "evidence": c.evidence,
                    "audit_seq": c.audit_seq} for c in row.checks.values()],
        "approvals": [{"check": c.check_id, "by": c.actor, "at": c.at, "result": c.result}
                      for c in row.checks.values() if c.actor and c.actor != "relbot"],
        "steps": dict(row.steps),
        "notes_digest": row.notes_digest or None,
        "audit": svc.audit.range_of(subject(row)),
    }


def verify_evidence(audit: Any, record: dict[str, Any]) -> list[str]:
    """Problems found checking ``record`` against the audit log (empty list = verified)."""
    problems = audit.check_range(record.get("audit") or {})
    for c in record.get("checks", []):
        if c.get("audit_seq"):
            e = audit.get(c["audit_seq"])
            p = e.payload if e else {}
            if not e or p.get("check") != c["id"] or p.get("result") != c["result"] \
                    or e.actor != c["actor"]:
                problems.append(f"check {c['id']}: result {c['result']} is not in audit entry "
                                f"{c['audit_seq']}")
    return problems


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
