"""The rollback evidence record, and checking one against the audit log."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bot.rollback import checklists as cl
from bot.rollback.service import elapsed
from storage.rollback import RollbackRow


def _secs(a: str | None, b: str | None) -> int | None:
    d = elapsed(a, b)
    return int(d.total_seconds()) if d is not None else None


def evidence(svc: Any, row: RollbackRow) -> dict[str, Any]:
    """Trigger, decision (matrix cell), timings, commands, verification, checklists,
    approvals, lock and the audit range with hashes."""
    d = row.data
    steps = {s["name"]: s for s in d.get("steps", [])}
    execute = steps.get("Execute") or {}
    lock = d.get("lock") or {}
    return {
        "id": row.id, "product": row.product, "procedure": row.procedure, "type": row.kind,
        "status": row.status,
        "trigger": {"requester": row.requester, "declared": row.declared,
                    "severity": d["severity"], "impact": d["impact"], "reason": d["reason"]},
        "decision": {"matrix_cell": d["cell_name"], "type": d["cell"]["type"],
                     "approvals_required": d["cell"]["approvals"],
                     "notify_oncall": d["cell"]["notify_oncall"], "why": d["why"],
                     "decided": d.get("decided"),
                     "seconds_to_decision": _secs(row.declared, d.get("decided")),
                     "escalated": d.get("escalated")},
        "target": {"from_version": d["from_version"], "to_version": d["to_version"],
                   "why": d["target_why"], "components": d["components"],
                   "window": d.get("window"), "config_ref": d.get("config_ref"),
                   "sync_plan": d.get("sync_plan"), "plan_digest": d["digest"]},
        "timings": {"declared": row.declared, "decided": d.get("decided"),
                    "execution_started": execute.get("started") or execute.get("at"),
                    "completed": d.get("completed"),
                    "total_seconds": _secs(row.declared, d.get("completed"))},
        "steps": [{"name": s["name"], "status": s["status"], "started": s.get("started"),
                   "at": s["at"], "note": s["note"]} for s in d.get("steps", [])],
        "commands": d.get("commands", []),
        "verification": d.get("verification", []),
        "checklists": {name: [{"item": label, "done": v in d["checklists"].get(name, {}),
                               **d["checklists"].get(name, {}).get(v, {})}
                              for v, label in items]
                       for name, items in cl.CHECKLISTS.items()},
        "approvals": d.get("approvals", []),
        "lock": {"product": row.product, "since": lock.get("since"),
                 "lifted": lock.get("lifted"), "lifted_by": lock.get("lifted_by"),
                 "reason": lock.get("lift_reason")} if lock else None,
        "error": d.get("error") or None,
        "postmortem_due": d.get("postmortem_due"),
        "audit": svc.audit.range_of(row.id),
    }


def record_digest(record: dict[str, Any]) -> str:
    """SHA-256 of the record without its audit range (which grows as entries are added)."""
    body = {k: v for k, v in record.items() if k != "audit"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def verify_evidence(audit: Any, record: dict[str, Any]) -> list[str]:
    """Problems found checking ``record`` against the audit log (empty list = verified)."""
    problems = audit.check_range(record.get("audit") or {})
    for c in list(record.get("commands") or []) + list(record.get("verification") or []):
        e = audit.get(c.get("audit_seq")) if c.get("audit_seq") else None
        p = e.payload if e else {}
        same = e is not None and e.subject == record.get("id") and all(
            p.get(k) == c.get(k) for k in ("exit_code", "output_sha256", "result")
            if k in c)
        if not same:
            problems.append(f"command {c.get('name')!r}: exit code / output digest is not in "
                            f"audit entry {c.get('audit_seq')}")
    runs = {e.seq for e in audit.entries(subject=record.get("id") or "")
            if e.action == "rollback.command"}
    cited = {c.get("audit_seq") for c in list(record.get("commands") or [])
             + list(record.get("verification") or [])}
    if runs != cited:
        problems.append(f"the audit log has {len(runs)} command run(s) for {record.get('id')}, "
                        f"the record cites {len(cited)}: a run is missing or invented")
    for name, items in (record.get("checklists") or {}).items():
        for it in items:
            if it.get("done"):
                e = audit.get(it.get("audit_seq")) if it.get("audit_seq") else None
                if e is None or e.actor != it.get("by") or e.subject != record.get("id"):
                    problems.append(f"checklist {name} {it['item']!r}: tick not in the audit log")
    return problems
