"""What an execution did to each target, and what a retry may run again (pure: no Slack,
no git)."""

from __future__ import annotations

from pydantic import BaseModel

from bot.errors import AlreadyRunning, CommandFailed, Refused
from bot.sync.plan import Plan
from storage.sync import PlanRow


class Outcome(BaseModel):
    """What one execution did to one target."""

    repo: str
    branch: str | None
    status: str                 # moved | unchanged | failed
    sha_before: str | None
    sha_after: str | None       # where the target is now (== sha_before unless it moved)
    error: str = ""             # git's full stderr (or the verify/refusal reason)

    @property
    def moved(self) -> bool:
        """The target is no longer where it was (a failed verify after a push counts)."""
        return self.sha_after != self.sha_before


RETRYABLE = ("partially-applied", "failed")


def retry_targets(row: PlanRow) -> list[int]:
    """The targets a retry runs: those whose last execution failed without moving them."""
    if row.status == "running":
        raise AlreadyRunning(row.id)
    if row.status not in RETRYABLE:
        raise Refused(f"{row.id} is {row.status}: only a partially-applied or failed sync can "
                      "be retried")
    todo = [i for i, o in enumerate(row.outcomes) if o["status"] == "failed"
            and o["sha_after"] == o["sha_before"]]
    if not todo:
        raise Refused(f"{row.id}: no failed target left unchanged to retry (check the target, "
                      f"then `/sync plan {row.sync}`)")
    return todo


def git_error(exc: Exception) -> str:
    """git's full stderr for a failed command; the message for anything else."""
    if isinstance(exc, CommandFailed) and exc.output.strip():
        rc = "timed out" if exc.returncode is None else f"exit {exc.returncode}"
        return f"{' '.join(exc.argv[:3])}: {rc}\n{exc.output.strip()}"
    return str(exc)


def verdict(plan: Plan, outcomes: list[Outcome]) -> tuple[str, str, str]:
    """(plan status, result word, note) from the per-target outcomes."""
    failed = [o for o in outcomes if o.status == "failed"]
    moved = sum(1 for o in outcomes if o.moved)
    if not failed:
        return "done", "success", "target now " + ", ".join(
            (o.sha_after or "")[:12] for o in outcomes)
    if moved:
        return ("partially-applied", "partially-applied",
                f"{moved} of {len(outcomes)} targets moved; `/sync retry {plan.id}` retries "
                "the failed ones")
    return "failed", "failed", failed[0].error.splitlines()[0] if failed[0].error else "failed"
