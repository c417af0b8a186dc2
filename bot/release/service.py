"""The release workflow over storage + audit (no Slack imports)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.clock import iso
from bot.errors import CommandFailed, NotFound, Refused, UsageError
from bot.git import git
from bot.groups import describe
from bot.integrations import codehost
from bot.redact import scrub_text
from bot.release import checks as ck
from bot.release import notes as nt
from bot.release import version as vs
from bot.release.config import Product
from storage.release import ReleaseRow, ReleaseStore

if TYPE_CHECKING:
    from bot.services import Services


def store(svc: Services) -> ReleaseStore:
    """The release store (``svc.releases``)."""
    return svc.releases


def slot(product_name: str) -> str:
    """The ``exclusive`` slot of a product's releases: one active release per product."""
    return f"release:{product_name}"


def product(svc: Services, name: str | None) -> Product:
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
    """The product's repository (already resolved against the config file's directory)."""
    return Path(p.repo)


def propose(p: Product, released: list[str] = ()) -> tuple[vs.semver.Version | None, str | None,
                                                             list[str]]:
    """Last release, proposed bump and the commits that call for it."""
    last = vs.last_release(repo(p), list(released))
    since = vs.last_tag(repo(p), final_only=True)
    bump, why = vs.propose_bump(vs.commits(repo(p), since, p.ref))
    return last, bump, why


def taken_versions(svc: Services, p: Product) -> list[vs.semver.Version]:
    """Every version tagged or recorded (any status, aborted too) for ``p``: none is used
    twice, by a release or by an rc tag."""
    return vs.tags(repo(p)) + [vs.parse(v) for v in store(svc).all_versions(p.name)]


def subject(row: ReleaseRow) -> str:
    """``product@version``: the subject of every audit entry about the release."""
    return f"{row.product}@{row.version}"


def evidence_id(row: ReleaseRow) -> str:
    """The release's evidence ID (named in a prepared commit and the evidence record)."""
    return f"REL-{row.product}-{row.version}"


def find(svc: Services, version: str | None, product_name: str | None = None) -> ReleaseRow:
    """The release of ``version`` (``v`` prefix allowed), or the product's active one when
    ``version`` is None; NotFound otherwise."""
    if version and version.startswith("v"):
        version = version[1:]
    row = store(svc).find(product_name, version)
    if row is None:
        raise NotFound("release", version or "(active)", "start one with /release start")
    return row


def record(svc: Services, row: ReleaseRow, cid: str, result: str, actor: str, evidence: str,
            commit: str | None = None, details: dict[str, Any] | None = None) -> None:
    """Audit one check result (evidence scrubbed of secrets) and store it with the commit it
    was decided on (default: the candidate)."""
    evidence = scrub_text(evidence, svc.config.current.secrets)
    sha = row.commit if commit is None else commit
    payload: dict[str, Any] = {"check": cid, "result": result, "evidence": evidence,
                               "commit": sha}
    if details:
        payload["details"] = details  # a code host's structured evidence, hash-chained
    e = svc.audit.append(actor, "release.check", subject(row), payload)
    store(svc).set_check(row.id, cid, result, actor, e.ts, evidence, e.seq, sha)


def resolve(p: Product) -> str:
    """The commit the product's release ref points at now."""
    try:
        return git("rev-parse", "--verify", "--quiet", f"{p.ref}^{{commit}}",
                   cwd=repo(p)).strip()
    except CommandFailed:
        raise Refused(f"ref {p.ref!r} of {p.name} does not resolve to a commit in "
                      f"{p.repo}") from None


def candidate(row: ReleaseRow) -> ck.Candidate:
    """What the automatic checks decide about: the release's version at its candidate."""
    return ck.Candidate(row.version, row.commit, row.notes_digest, row.notes_commit)


def follow_ref(svc: Services, row: ReleaseRow,
               actor: str = "relbot") -> tuple[ReleaseRow, str | None]:
    """Re-resolve the product's ref; when it moved, the release's candidate becomes the new
    commit (audited) and the old one is returned."""
    if row.status != "active":
        return row, None
    p = product(svc, row.product)
    head = resolve(p)
    if head == row.commit:
        return row, None
    old = row.commit
    if store(svc).set_candidate(row.id, old, head):
        svc.audit.append(actor, "release.candidate", subject(row), {
            "from": old, "to": head, "ref": p.ref, "step": row.step})
    return store(svc).get(row.id), old  # type: ignore[return-value]


def moved_note(old: str, new: str) -> str:
    """The sentence telling users the candidate moved and the checks were re-run."""
    return (f"the candidate moved from {old[:7]} to {new[:7]} since the checks ran: they were "
            f"stale and were re-run on {new[:7]}")


def recheck(svc: Services, row: ReleaseRow, actor: str = "relbot") -> tuple[ReleaseRow, str | None]:
    """Follow the ref, then decide every automatic check on the candidate commit; returns the
    row and, when the candidate moved, a sentence saying so."""
    if row.status != "active":          # a finished release keeps what it shipped with
        return row, None
    row, old = follow_ref(svc, row, actor)
    p = product(svc, row.product)
    cand = candidate(row)
    again = []
    for cid, c in row.checks.items():
        if c.result in ("waived", "n/a") or (c.result == "pass" and c.actor != "relbot"):
            continue
        out = ck.decide(p, cid, cand, svc.clock)
        if out is None:
            continue
        if (c.result, c.evidence, c.commit) != (out.result, out.evidence, out.commit):
            record(svc, row, cid, out.result, "relbot", out.evidence, out.commit, out.details)
        if out.result == ck.WAITING:
            again.append(out.recheck_at or svc.clock.now() + codehost.config_of(p).recheck_every)
    if again:  # re-run waiting checks until decided
        svc.scheduler.add_once(f"release-recheck:{row.id}", min(again), "release.recheck",
                               release_id=row.id)
    row = store(svc).get(row.id)  # type: ignore[assignment]
    return row, moved_note(old, row.commit) if old else None


def run_auto(svc: Services, row: ReleaseRow, actor: str = "relbot") -> ReleaseRow:
    """:func:`recheck` without the moved-sentence: the row with every automatic check
    decided again on the (re-resolved) candidate."""
    return recheck(svc, row, actor)[0]


def manual(svc: Services, row: ReleaseRow) -> set[str]:
    """The checks a person decides for this release's product (Confirm buttons)."""
    p = product(svc, row.product)
    return {cid for cid in ck.NAMES if not ck.automatic(p, cid)}


def may_confirm(svc: Services, row: ReleaseRow, cid: str, user: str) -> str | None:
    """Why ``user`` may not confirm ``cid`` (None when allowed)."""
    allowed = svc.config.current.permissions.release
    if not svc.groups.allowed(user, allowed):
        return f"confirming {cid} is limited to {describe(allowed)}"
    if cid == "RL-06" and user == row.starter:
        return f"RL-06 must be confirmed by someone other than the release starter <@{user}>"
    return None


def who_can_clear(svc: Services, row: ReleaseRow, cid: str) -> str:
    """Who (or what) can make ``cid`` pass, for a blocker line: the bot, a code host or the
    people allowed to confirm it."""
    p = product(svc, row.product)
    m = ck.mode(p, cid)
    if m == "command":
        return f"the bot (`{' '.join(p.checks[cid])}` must exit 0; `/release check`)"
    if cid == "RL-08":
        return "anyone running `/release notes`"
    if m == "provider":
        host = codehost.config_of(p)
        where = ("GitHub " + host.repo) if p.github is not None else ("GitLab " + host.project)
        what = ("merge the open pull requests" if cid == "RL-01"
                else f"checks green on `{row.commit[:7]}`")
        return f"{where}: {what}, then `/release check` (or a waiver)"
    if m == "builtin":
        return {"RL-03": f"update {p.changelog}", "RL-04": f"bump {p.version_file}"}[cid] + \
            " then `/release check`"
    who = describe(svc.config.current.permissions.release)
    if cid == "RL-06":
        who += f" except the starter <@{row.starter}>"
    return f"{who} (Confirm button or `/release waive {cid} reason`)"


def confirm(svc: Services, row: ReleaseRow, cid: str, user: str, waive_reason: str = "") -> None:
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
        record(svc, row, cid, "waived", user, f"waived: {waive_reason}")
    else:
        if ck.mode(product(svc, row.product), cid) != "manual":
            raise Refused(f"{cid} is decided by the bot; waive it with a reason instead")
        record(svc, row, cid, "pass", user, "confirmed in Slack")


def blockers(svc: Services, row: ReleaseRow) -> list[tuple[str, str, str]]:
    """(check, result, who can clear it) for each check gating the current step."""
    return [(cid, row.checks[cid].result, who_can_clear(svc, row, cid))
            for cid in ck.gating(row.step) if row.checks[cid].result not in ck.DONE]


SHIPPING = ("Execution", "Post-Release")
"""Steps a frozen product (e.g. locked after a rollback) may not enter; a release already at
Post-Release has shipped and may still be closed."""


def lock_note(svc: Services, row: ReleaseRow) -> str | None:
    """For an active release of a frozen product: the lock and what it holds back."""
    if row.status != "active" or row.step not in ck.STEPS:
        return None
    later = ck.STEPS[ck.STEPS.index(row.step) + 1:]
    held = next((s for s in SHIPPING if s in later), None)
    fr = svc.locks.frozen(row.product) if held else None
    if fr is None:
        return None
    return f"{fr.describe()}. {row.product} {row.version} will not enter {held} until then."


def draft_notes(svc: Services, row: ReleaseRow, actor: str) -> tuple[str, Path, Path]:
    """Write the notes files, record the digest, re-run RL-08; returns the Markdown. A
    finished release keeps the notes it finished with (its evidence names their digest)."""
    p = product(svc, row.product)
    if row.status != "active":
        kept = f" (sha256 {row.notes_digest[:12]})" if row.notes_digest else ""
        raise Refused(f"{row.product} {row.version} is {row.status}: it keeps the notes it "
                      f"finished with{kept}, in {p.notes_dir}/v{row.version}.md; they are not "
                      "drafted again")
    row, _ = follow_ref(svc, row, actor)
    ver = vs.parse(row.version)
    since = vs.last_tag(repo(p), ver, final_only=not ver.prerelease)
    cs = vs.commits(repo(p), since, row.commit)
    groups = nt.group(cs, p.highlight_scopes, p.highlight_labels)
    md = nt.markdown(p.name, row.version, groups)
    yml = nt.structured(p.name, row.version, since, row.commit, groups, iso(svc.clock.now()))
    out = Path(p.notes_dir)
    out = out if out.is_absolute() else repo(p) / out
    mdp, ymp, digest = nt.write(out, row.version, md, yml)
    store(svc).set_notes(row.id, digest, row.commit)
    svc.audit.append(actor, "release.notes", subject(row), {
        "digest": digest, "markdown": str(mdp), "yaml": str(ymp), "commits": len(cs),
        "commit": row.commit})
    run_auto(svc, store(svc).get(row.id))  # type: ignore[arg-type]
    return md, mdp, ymp

