"""A sync's evidence: the change list's fingerprint and the sync log record of one run."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import yaml

from bot.redact import scrub_text
from bot.render.sync import as_file, change_list_file
from bot.sync.message import LIMIT
from bot.sync.outcome import Outcome
from bot.sync.plan import Plan
from bot.sync.state import KIND

if TYPE_CHECKING:
    from bot.services import Services


def change_list_evidence(svc: Services, plan: Plan) -> dict[str, Any] | None:
    """For a plan whose change list is uploaded as a file: its name, the SHA-256 of exactly
    what is uploaded (secrets scrubbed) and its size (the audit entry and the sync log record
    carry it, DR-03); None otherwise."""
    if not as_file(plan, LIMIT):
        return None
    name, content = change_list_file(plan)
    content = scrub_text(content, svc.config.current.secrets)
    return {"file": name, "sha256": hashlib.sha256(content.encode()).hexdigest(),
            "changes": sum(len(t.changes) for t in plan.targets)}


def sync_record(svc: Services, plan: Plan, executor: str, started: str, result: str,
                error: str, outcomes: list[Outcome], retry: bool) -> dict[str, Any]:
    """The sync log record of one execution attempt (the evidence; not yet scrubbed)."""
    req = svc.approvals.for_subject(KIND, plan.id)
    votes = svc.approvals.state(req).approved_by if req else ()
    return {
        "id": "SL-" + hashlib.sha256(f"{plan.id}{started}".encode()).hexdigest()[:10],
        "sync_name": plan.sync, "type": plan.type, "evidence_id": plan.id,
        "source": {"repo": plan.source_repo, "ref": plan.source_ref, "sha": plan.source_sha},
        "targets": [{"repo": t.repo, "branch": t.branch, "sha_before": t.sha,
                     "sha_after": outcomes[i].sha_after if outcomes else None,
                     **({"status": outcomes[i].status, "error": outcomes[i].error}
                        if outcomes else {})}
                    for i, t in enumerate(plan.targets)],
        "dry_run_digest": plan.digest,
        "approvers": [v.record() for v in votes],
        "executor": executor, "started": started, "ended": svc.clock.now().isoformat(),
        "result": result, "error": error, "retry": retry,
        **({"change_list": listing} if (listing := change_list_evidence(svc, plan)) else {}),
        "changes": [{"status": c.status, "path": c.path, "old_path": c.old_path,
                     "added": c.added, "removed": c.removed, "binary": c.binary}
                    for t in plan.targets for c in t.changes],
    }


def record_yaml(record: dict) -> str:
    """A sync log record as YAML."""
    return yaml.safe_dump(record, sort_keys=False)
