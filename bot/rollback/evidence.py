"""The rollback evidence record, and checking one against the audit log."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from bot.rollback import checklists as cl
from bot.rollback.record import elapsed
from storage.rollback import RollbackRow

if TYPE_CHECKING:
    from bot.services import Services


def _secs(a: str | None, b: str | None) -> int | None:
    d = elapsed(a, b)
    return int(d.total_seconds()) if d is not None else None


def evidence(svc: Services, row: RollbackRow) -> dict[str, Any]:
    """Trigger, decision (matrix cell), timings, commands, verification, checklists,
    approvals, lock and the audit range with hashes."""
    rec = row.record
    execute = rec.step("Execute")
    lock = rec.lock
    return {
        "id": row.id, "product": row.product, "procedure": row.procedure, "type": row.kind,
        "status": row.status,
        "trigger": {"requester": row.requester, "declared": row.declared,
                    "severity": rec.severity, "impact": rec.impact, "reason": rec.reason},
        "decision": {"matrix_cell": rec.cell_name, "type": rec.cell.type,
                     "approvals_required": rec.cell.approvals,
                     "notify_oncall": rec.cell.notify_oncall, "why": rec.why,
                     "decided": rec.decided,
                     "seconds_to_decision": _secs(row.declared, rec.decided),
                     "escalated": rec.escalated},
        "target": {"from_version": rec.from_version, "to_version": rec.to_version,
                   "why": rec.target_why, "components": list(rec.components),
                   "window": rec.window, "config_ref": rec.config_ref,
                   "sync_plan": rec.sync_plan, "plan_digest": rec.digest},
        "timings": {"declared": row.declared, "decided": rec.decided,
                    "execution_started": (execute.started or execute.at) if execute else None,
                    "completed": rec.completed,
                    "total_seconds": _secs(row.declared, rec.completed)},
        "steps": [{"name": s.name, "status": s.status, "started": s.started, "at": s.at,
                   "note": s.note} for s in rec.steps],
        "commands": [c.evidence_dict() for c in rec.commands],
        "verification": [c.evidence_dict() for c in rec.verification],
        "checklists": {name: [{"item": label, "done": v in rec.checklists.get(name, {}),
                               **_tick(rec.checklists.get(name, {}).get(v))}
                              for v, label in items]
                       for name, items in cl.CHECKLISTS.items()},
        "approvals": [_plain(a) for a in rec.approvals],
        "retries": [_plain(r) for r in rec.retries],
        "pages": [_plain(p) for p in rec.pages],
        "lock": {"product": row.product, "since": lock.since, "lifted": lock.lifted,
                 "lifted_by": lock.lifted_by, "reason": lock.lift_reason} if lock else None,
        "error": rec.error or None,
        "postmortem_due": rec.postmortem_due,
        "audit": svc.audit.range_of(row.id),
    }


def _tick(tick: cl.Tick | None) -> dict[str, Any]:
    return tick.evidence_dict() if tick is not None else {}


def _plain(part: BaseModel) -> dict[str, Any]:
    """A list entry as the record always showed it: every field, keys sorted."""
    return dict(sorted(part.model_dump().items()))


def record_digest(record: dict[str, Any]) -> str:
    """SHA-256 of the record without its audit range (which grows as entries are added)."""
    body = {k: v for k, v in record.items() if k != "audit"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def verify_evidence(audit: Any, record: dict[str, Any]) -> list[str]:
    """Problems found checking ``record`` against the audit log (empty list = verified).

    Every fact the record states is compared with the entries that recorded it: trigger and
    target (``rollback.declared``), decision, steps, every command run, approvals, ticks,
    the lock and the outcome.
    """
    rid = str(record.get("id") or "")
    rng = record.get("audit") or {}
    problems = audit.check_range(rng)
    # only what had happened when the record was made: a later resolve does not falsify it
    upto = rng.get("last_seq") or 0
    entries = [e for e in audit.entries(subject=rid) if e.seq <= upto]
    if not entries:
        return problems + [f"the audit log has no entries for {rid!r}"]
    by_action: dict[str, list[Any]] = {}
    for e in entries:
        by_action.setdefault(e.action, []).append(e)
    problems += _check_declared(record, by_action)
    problems += _check_commands(audit, record, by_action)
    problems += _check_steps(record, by_action)
    problems += _check_outcome(record, by_action)
    problems += _check_approvals(audit, record, by_action)
    problems += _check_checklists(record, by_action)
    if "retries" in record:  # records made before retries were recorded do not list them
        logged = [(e.actor, e.payload.get("step"), e.seq)
                  for e in by_action.get("rollback.retry", [])]
        cited = [(r.get("by"), r.get("step"), r.get("audit_seq")) for r in record["retries"]]
        problems += _differs("retries (by, step, audit_seq)", cited, logged)
    if "pages" in record:  # PagerDuty events sent (records before paging do not list them)
        logged = [(e.payload.get("action"), e.payload.get("dedup_key"), e.seq)
                  for e in by_action.get("rollback.page", [])]
        cited = [(p.get("action"), p.get("dedup_key"), p.get("audit_seq"))
                 for p in record["pages"]]
        problems += _differs("pages (action, dedup_key, audit_seq)", cited, logged)
    return problems


def _check_checklists(record: dict[str, Any], by_action: dict[str, list[Any]]) -> list[str]:
    """Replay every audited tick and untick; each box must match: done, by whom, which entry."""
    state: dict[tuple[str, str], Any] = {}
    for e in by_action.get("rollback.checklist", []):
        name = e.payload.get("list")
        for v in e.payload.get("ticked") or []:
            state[(name, v)] = e
        for v in e.payload.get("unticked") or []:
            state.pop((name, v), None)
    out = []
    claimed = record.get("checklists") or {}
    for name, items in cl.CHECKLISTS.items():
        got = {it.get("item"): it for it in claimed.get(name) or []}
        for value, label in items:
            it, e = got.get(label) or {}, state.get((name, value))
            says = (bool(it.get("done")), it.get("by"), it.get("audit_seq")) if it.get("done") \
                else (False, None, None)
            logged = (True, e.actor, e.seq) if e else (False, None, None)
            out += _differs(f"checklist {name} {label!r} (done, by, audit_seq)", says, logged)
    return out


def _differs(what: str, claimed: Any, logged: Any) -> list[str]:
    return [] if claimed == logged else [f"{what}: record says {claimed!r}, audit log says "
                                         f"{logged!r}"]


def _check_declared(record: dict[str, Any], by_action: dict[str, list[Any]]) -> list[str]:
    [declared, *_] = by_action.get("rollback.declared") or [None]
    if declared is None:
        return ["no rollback.declared entry in the audit log"]
    p, trig, tgt = declared.payload, record.get("trigger") or {}, record.get("target") or {}
    out = _differs("trigger.requester", trig.get("requester"), declared.actor)
    for key, logged in (("severity", p.get("severity")), ("impact", p.get("impact")),
                        ("reason", p.get("reason"))):
        out += _differs(f"trigger.{key}", trig.get(key), logged)
    out += _differs("target.from_version", tgt.get("from_version"), p.get("from"))
    out += _differs("target.to_version", tgt.get("to_version"), p.get("to"))
    out += _differs("target.components", list(tgt.get("components") or []),
                    list(p.get("components") or []))
    out += _differs("target.plan_digest", tgt.get("plan_digest"), p.get("digest"))
    out += _differs("procedure", record.get("procedure"), p.get("procedure"))
    out += _differs("product", record.get("product"), p.get("product"))
    for key in ("window", "config_ref"):
        if key in p:  # recorded at declaration since these were added
            out += _differs(f"target.{key}", tgt.get(key), p[key])
    dec = record.get("decision") or {}
    decided, _ = _decision(by_action)
    if dec.get("decided") and decided is None:
        return out + ["decision.decided is set but no rollback.decided entry exists"]
    if decided is not None:
        dp = decided.payload
        out += _differs("decision.matrix_cell", dec.get("matrix_cell"), dp.get("matrix"))
        out += _differs("decision.type", dec.get("type"), (dp.get("cell") or {}).get("type"))
        out += _differs("decision.approvals_required", dec.get("approvals_required"),
                        (dp.get("cell") or {}).get("approvals"))
        out += _differs("decision.seconds_to_decision", dec.get("seconds_to_decision"),
                        dp.get("seconds"))
    return out


def _check_commands(audit: Any, record: dict[str, Any],
                    by_action: dict[str, list[Any]]) -> list[str]:
    out = []
    cited = list(record.get("commands") or []) + list(record.get("verification") or [])
    for c in cited:
        e = audit.get(c.get("audit_seq")) if c.get("audit_seq") else None
        p = e.payload if e else {}
        same = e is not None and e.subject == record.get("id") and all(
            p.get(k) == c.get(k) for k in ("name", "argv", "exit_code", "output_sha256",
                                            "result") if k in c)
        if not same:
            out.append(f"command {c.get('name')!r}: argv / exit code / output digest is not in "
                       f"audit entry {c.get('audit_seq')}")
    runs = {e.seq for e in by_action.get("rollback.command", [])}
    if runs != {c.get("audit_seq") for c in cited}:
        out.append(f"the audit log has {len(runs)} command run(s) for {record.get('id')}, "
                   f"the record cites {len(cited)}: a run is missing or invented")
    return out


def _check_steps(record: dict[str, Any], by_action: dict[str, list[Any]]) -> list[str]:
    last: dict[str, Any] = {}
    for e in by_action.get("rollback.step", []):
        last[e.payload.get("step")] = e
    out = []
    for s in record.get("steps") or []:
        e = last.get(s.get("name"))
        logged = (e.payload.get("status"), e.payload.get("at")) if e else ("pending", None)
        out += _differs(f"step {s.get('name')}", (s.get("status"), s.get("at")), logged)
    return out


OUTCOME = {"done": "rollback.completed", "aborted": "rollback.aborted",
           "cancelled": "rollback.cancelled", "expired": "rollback.expired",
           "superseded": "rollback.superseded"}


def _check_outcome(record: dict[str, Any], by_action: dict[str, list[Any]]) -> list[str]:
    out = []
    status = record.get("status")
    for st, action in OUTCOME.items():
        logged = bool(by_action.get(action))
        if logged != (status == st):
            out.append(f"status {status!r}, but the audit log "
                       + (f"has {action}" if logged else f"has no {action} entry"))
    lock = record.get("lock")
    if bool(lock) != bool(by_action.get("rollback.locked")):
        out.append("lock: record and audit log disagree on whether the product was locked")
    unlocked = by_action.get("rollback.unlocked") or []
    if lock and bool(lock.get("lifted")) != bool(unlocked):
        out.append("lock.lifted: record and audit log disagree on whether the lock was lifted")
    if lock and lock.get("lifted") and unlocked:
        u = unlocked[-1]
        out += _differs("lock.lifted_by", lock.get("lifted_by"), u.actor)
        out += _differs("lock.reason", lock.get("reason"), u.payload.get("reason"))
    return out


def _check_approvals(audit: Any, record: dict[str, Any],
                     by_action: dict[str, list[Any]]) -> list[str]:
    """The approvers the record lists are exactly those counted (and not revoked) before
    the (last) decision, on the rollback or on its config-sync dry-run; after a withdrawal,
    those still standing then."""
    decided, withdrawn = _decision(by_action)
    listed = {a.get("user") for a in record.get("approvals") or []}
    if withdrawn is not None:
        return _differs("approvals", sorted(listed), sorted(withdrawn.payload["approvals"]))
    if decided is None:
        return []
    subjects = {record.get("id"), (record.get("target") or {}).get("sync_plan")} - {None}
    voters: set[str] = set()
    for e in audit.entries(action_prefix="approval."):
        if e.seq > decided.seq:
            break
        if e.subject in subjects and e.action == "approval.counted":
            voters.add(e.actor)
        elif e.subject in subjects and e.action == "approval.revoked":
            voters.discard(e.actor)
    return _differs("approvals", sorted(listed), sorted(voters))


def _decision(by_action: dict[str, list[Any]]) -> tuple[Any, Any]:
    """(the standing rollback.decided entry, or None; a withdrawal that undid it, or None)."""
    [*_, decided] = by_action.get("rollback.decided") or [None]
    [*_, withdrawn] = by_action.get("rollback.approval_withdrawn") or [None]
    if withdrawn is not None and (decided is None or withdrawn.seq > decided.seq):
        return None, withdrawn
    return decided, None
