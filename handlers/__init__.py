"""Slack listeners. The command table below is the one place commands are wired."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from handlers import buttons, home, home_actions, modals, reactions, release, rollback, sync
from handlers.base import CommandSpec, register_command

if TYPE_CHECKING:
    from bot.services import Services

RELEASE_SUBCOMMANDS = {**release.SUBCOMMANDS}
try:  # the cadence feature contributes `/release calendar`
    from handlers import cadence

    RELEASE_SUBCOMMANDS.update(cadence.RELEASE_SUBCOMMANDS)
except ImportError:  # pragma: no cover
    cadence = None  # type: ignore[assignment]

COMMANDS: dict[str, CommandSpec] = {
    "/release": CommandSpec("/release", "run a release: version, checks RL-01..RL-08, notes",
                            "release", RELEASE_SUBCOMMANDS),
    "/sync": CommandSpec("/sync", "plan, approve and run syncs (dry-run first, always)",
                         "sync", sync.SUBCOMMANDS, aliases={"dry-run": "plan"}),
    "/rollback": CommandSpec("/rollback", "roll a product back (decision matrix, RB-IMM/RB-PLN)",
                             "rollback", rollback.SUBCOMMANDS,
                             default="start" if "start" in rollback.SUBCOMMANDS else None,
                             empty="start" if "start" in rollback.SUBCOMMANDS else None),
}

MODULES: list[Any] = [m for m in (reactions, buttons, modals, home, home_actions, release, sync,
                                   rollback, cadence) if m]


def register_all(app: Any) -> None:
    """Wire every command from :data:`COMMANDS` and every module's actions/events."""
    for spec in COMMANDS.values():
        register_command(app, spec)
    for module in MODULES:
        module.register(app)


def setup_all(svc: Services) -> None:
    """Let features register approval kinds and scheduler jobs (once, at start-up)."""
    for module in MODULES:
        setup = getattr(module, "setup", None)
        if setup is not None:
            setup(svc)
    # votes cast while relbot was down are on the messages: count them once every kind is in
    svc.work.submit(svc.approvals.reconcile_open)
