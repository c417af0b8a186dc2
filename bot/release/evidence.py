"""The release evidence record (names the tag) and its verification against the audit log
and the repository."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.errors import CommandFailed
from bot.git import git
from bot.release import checks as ck
from bot.release import service as rs
from storage.release import ReleaseRow

if TYPE_CHECKING:
    from bot.services import Services


def evidence(svc: Services, row: ReleaseRow) -> dict[str, Any]:
    """The evidence record: tag, candidate commit, checks (each with the commit it ran on),
    approvals, steps, notes digest, audit range + hashes."""
    return {
        "id": rs.evidence_id(row),
        "version": row.version, "product": row.product, "commit": row.commit,
        "tag": ({"name": row.tag_name, "object": row.tag_object, "commit": row.commit,
                 "pushed_to": row.tag_remote or None} if row.tag_name else None),
        "bump": row.bump, "status": row.status, "step": row.step, "starter": row.starter,
        "start_reason": row.start_reason or None,
        "checks": [{"id": c.check_id, "name": ck.NAMES[c.check_id], "result": c.result,
                    "actor": c.actor, "time": c.at, "commit": c.commit or None,
                    "evidence": c.evidence, "audit_seq": c.audit_seq,
                    **_details(svc, c.audit_seq)}
                   for c in row.checks.values()],
        "published": [e.payload for e in svc.audit.entries(subject=rs.subject(row),
                                                            action_prefix="release.publish")
                      if e.action == "release.publish"],
        "approvals": [{"check": c.check_id, "by": c.actor, "at": c.at, "result": c.result}
                      for c in row.checks.values() if c.actor and c.actor != "relbot"],
        "steps": dict(row.steps),
        "notes_digest": row.notes_digest or None,
        "audit": svc.audit.range_of(rs.subject(row)),
    }


def _details(svc: Services, seq: int | None) -> dict[str, Any]:
    """A code host check's structured evidence (pull requests with merge SHAs, checks with
    conclusions, URLs and commit), from the audit entry that recorded the result."""
    e = svc.audit.get(seq) if seq else None
    details = e.payload.get("details") if e else None
    return {"details": details} if details else {}


def verify_evidence(audit: Any, record: dict[str, Any], repo: str | None = None) -> list[str]:
    """Problems found checking ``record`` against the audit log and, when ``repo`` is given,
    the repository (the tag exists and points at the recorded commit). Empty = verified."""
    problems = audit.check_range(record.get("audit") or {})
    for c in record.get("checks", []):
        if c.get("audit_seq"):
            e = audit.get(c["audit_seq"])
            p = e.payload if e else {}
            if not e or p.get("check") != c["id"] or p.get("result") != c["result"] \
                    or e.actor != c["actor"]:
                problems.append(f"check {c['id']}: result {c['result']} is not in audit entry "
                                f"{c['audit_seq']}")
            elif "commit" in p and p["commit"] != c.get("commit"):
                problems.append(f"check {c['id']}: ran on {p['commit']} per audit entry "
                                f"{c['audit_seq']}, the record says {c.get('commit')}")
            elif "details" in c and p.get("details") != c["details"]:
                problems.append(f"check {c['id']}: details differ from audit entry "
                                f"{c['audit_seq']}")
    problems += _verify_commit(audit, record)
    if repo and record.get("tag"):
        problems += _verify_repo(repo, record["tag"])
    return problems


def _verify_commit(audit: Any, record: dict[str, Any]) -> list[str]:
    """The record's commit and tag against the last candidate/tag entries it cites."""
    rng = record.get("audit") or {}
    last = rng.get("last_seq") or 0
    subject = rng.get("subject")
    commit, tagged = None, None
    for e in audit.entries(subject=subject) if subject else ():
        if e.seq > last:
            break
        if e.action == "release.start":
            commit = e.payload.get("commit")
        elif e.action == "release.candidate":
            commit = e.payload.get("to")
        elif e.action == "release.tag":
            tagged = e.payload
    out = []
    if commit and record.get("commit") != commit:
        out.append(f"commit {record.get('commit')} is not the candidate {commit} in the "
                   "audit log")
    tag = record.get("tag") or None
    if tagged and not tag:
        out.append(f"the audit log records tag {tagged['tag']}; the record has none")
    elif tag and not tagged:
        out.append(f"tag {tag.get('name')} is not in the audit log")
    elif tag and tagged:
        for key, akey in (("name", "tag"), ("object", "tag_object"), ("commit", "commit")):
            if tag.get(key) != tagged.get(akey):
                out.append(f"tag.{key} {tag.get(key)} is not {tagged.get(akey)} as audited")
    return out


def _verify_repo(repo: str, tag: dict[str, Any]) -> list[str]:
    name = tag.get("name")
    try:
        obj = git("rev-parse", f"refs/tags/{name}", cwd=repo).strip()
        sha = git("rev-parse", f"refs/tags/{name}^{{commit}}", cwd=repo).strip()
    except CommandFailed:
        return [f"tag {name} does not exist in {repo}"]
    out = []
    if obj != tag.get("object"):
        out.append(f"tag {name} in {repo} is object {obj}, the record says {tag.get('object')}")
    if sha != tag.get("commit"):
        out.append(f"tag {name} in {repo} points at {sha}, the record says {tag.get('commit')}")
    return out
