"""Everything a handler, job or CLI command needs, built once at start-up."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.actions.kinds import APPROVAL_KINDS, ApprovalFollower
from bot.actions.record import Actions
from bot.approvals import Approvals
from bot.auditlog import open_audit
from bot.clock import Clock, SystemClock
from bot.config import ConfigHolder
from bot.groups import GroupResolver
from bot.metrics import Metrics
from bot.outbox import Delivery, Outbox
from bot.reactions import SlackReactions
from bot.redact import scrub
from bot.scheduler import Scheduler
from bot.work import WorkTracker
from storage.actions import ActionStore
from storage.approvals import ApprovalStore
from storage.audit import AuditLog
from storage.cadence import CadenceStore
from storage.checkpoints import Checkpoint
from storage.db import Database
from storage.events import SeenEvents
from storage.locks import Locks
from storage.outbox import OutboxStore
from storage.release import ReleaseStore
from storage.rollback import RollbackStore
from storage.sync import SyncStore

if TYPE_CHECKING:
    from slack_sdk import WebClient

log = logging.getLogger(__name__)


@dataclass
class Services:
    """The bot's shared state: core services, the feature stores and the typed seams."""

    config: ConfigHolder
    db: Database
    audit: AuditLog
    locks: Locks
    clock: Clock
    groups: GroupResolver
    approvals: Approvals
    events: SeenEvents
    work: WorkTracker
    outbox: Outbox
    actions: Actions
    """Every gated action's status (``bot.actions.record``): the one compare-and-set."""
    scheduler: Scheduler
    rollbacks: RollbackStore
    releases: ReleaseStore
    cadence: CadenceStore
    syncs: SyncStore
    client: WebClient | None = None
    """None when no Slack is involved (tests of the core, CLIs)."""
    metrics: Metrics | None = None
    rollback_shown: dict[int, int] = field(default_factory=dict)
    """Per rollback number, the content last sent to Slack (unchanged: no chat.update)."""

    def health(self) -> str | None:
        """What ``/healthz`` reports as wrong (None: healthy)."""
        problem = self.db.write_problem()
        return f"relbot cannot write its database ({problem})" if problem else None

    @property
    def data_dir(self) -> Path:
        """Directory for caches (fetched repos, generated files): ``RELBOT_DATA_DIR``, else
        beside the SQLite file, else (PostgreSQL) beside the config file."""
        if os.environ.get("RELBOT_DATA_DIR"):
            return Path(os.environ["RELBOT_DATA_DIR"])
        f = self.db.file
        return (f.resolve().parent if f is not None else self.config.current.base_dir) \
            / "relbot-data"

    def close(self) -> None:
        try:
            self.scheduler.shutdown()
        except Exception:  # shutting down must never raise
            log.exception("scheduler shutdown failed")
        self.work.shutdown(wait=True, cancel_futures=False)
        self.outbox.stop()      # what is still queued goes out at the next start
        self.db.close()


def _slack_group_lookups(client: WebClient | None) -> tuple[Any, Any]:
    def list_groups() -> dict[str, str]:
        if client is None:
            return {}
        resp = client.usergroups_list(include_disabled=False)
        return {g["handle"]: g["id"] for g in resp.get("usergroups", [])}

    def list_members(group_id: str) -> list[str]:
        if client is None:
            return []
        return list(client.usergroups_users_list(usergroup=group_id).get("users", []))

    return list_groups, list_members


def _vote_reactions(config: ConfigHolder) -> frozenset[str]:
    """Every reaction that counts as a vote under the config (root and per-sync policies)."""
    cfg = config.current
    names = set(cfg.approval.reactions)
    for sd in cfg.syncs:
        if sd.approval is not None and sd.approval.reactions:
            names.update(sd.approval.reactions)
    return frozenset(names)


def build_services(config: ConfigHolder, db_path: str | Path, *,
                   client: WebClient | None = None,
                   clock: Clock | None = None, real_time: bool = True,
                   delivery: Delivery | None = None,
                   approval_kinds: Mapping[str, ApprovalFollower] = APPROVAL_KINDS) -> Services:
    """Open the database, run migrations and wire the shared services; ``delivery`` is the
    outbox's way to Slack (none: messages stay queued for a bot that has one);
    ``approval_kinds``: who follows the votes on each kind of approval request (the app's
    table, :data:`bot.actions.kinds.APPROVAL_KINDS`)."""
    clock = clock or SystemClock()
    db = Database(db_path)
    audit = open_audit(db, clock, config)
    groups = GroupResolver(*_slack_group_lookups(client), clock,
                           ttl=config.current.usergroup_cache_ttl)
    outbox = Outbox(OutboxStore(db), clock, delivery, audit)
    approvals = Approvals(ApprovalStore(db), audit, groups, clock,
                          SlackReactions(client, outbox.slack_ts),
                          vote_reactions=lambda: _vote_reactions(config),
                          followers=approval_kinds)
    scheduler = Scheduler(db, clock, real_time=real_time,
                          poll=2.0 if db.dialect == "postgresql" else None)
    svc = Services(config=config, db=db, audit=audit, locks=Locks(db, clock), clock=clock,
                   groups=groups, approvals=approvals, events=SeenEvents(db),
                   work=WorkTracker(), outbox=outbox, scheduler=scheduler,
                   actions=Actions(ActionStore(db), clock),
                   rollbacks=RollbackStore(db, lambda data: scrub(data, config.current.secrets)),
                   releases=ReleaseStore(db), cadence=CadenceStore(db), syncs=SyncStore(db),
                   client=client)
    approvals.services = svc
    scheduler.bind(svc)
    cp = config.current.audit.checkpoints
    if cp is not None and cp.channel:
        audit.on_checkpoint.append(
            lambda c: svc.work.submit(_post_checkpoint, svc, cp.channel, c))
    svc.metrics = _metrics(svc)
    return svc


def _post_checkpoint(svc: Services, channel: str, cp: Checkpoint) -> None:
    """A copy of each checkpoint in the audit channel (after it is on disk)."""
    from bot.messages import post_message

    text = f"audit checkpoint: seq {cp.seq} head {cp.head} at {cp.ts} mac {cp.mac}"
    try:
        post_message(svc, text, None, channel)
    except Exception:  # the file holds the checkpoint; Slack is a second copy
        log.warning("could not post audit checkpoint %s to %s", cp.seq, channel)


def _metrics(svc: Services) -> Metrics:
    """Metrics fed by the audit log, the Slack client's failures and the job store."""
    m = Metrics(svc.clock)
    svc.audit.observers.append(m.observe)
    if hasattr(svc.client, "on_error"):
        svc.client.on_error = m.slack_error
    sched = svc.scheduler
    m.jobs = lambda: [when for _, _, when in sched.jobs()]
    store = svc.outbox.store

    def backlog() -> tuple[int, float]:
        n, oldest = store.backlog()
        age = (svc.clock.now() - datetime.fromisoformat(oldest.replace("Z", "+00:00"))
               ).total_seconds() if oldest else 0.0
        return n, max(0.0, age)

    m.outbox = backlog
    return m
