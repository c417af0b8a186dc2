"""One tree of internal errors, plus :class:`Refused` for user-facing refusals.

A *refusal* (a gate said no: missing approvals, a held lock, a stale plan) is not a
fault: it is raised as :class:`Refused` and shown to the user as a plain answer.
Everything under :class:`RelbotError` is a fault or invalid input; messages name the
field and the value involved.
"""

from __future__ import annotations

from dataclasses import dataclass


class Refused(Exception):  # noqa: N818 - deliberately not an *Error*
    """A gate refused the request; ``str(exc)`` is the user-facing answer."""

    def __init__(self, message: str, *, gate: str = "", who_can_clear: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.gate = gate
        self.who_can_clear = who_can_clear
        self.audited = False
        """True once the refusing code audited it (the command dispatcher then does not)."""


class AlreadyRunning(Refused):
    """Another execution of the same plan or action is under way (or just ran): this attempt
    lost the race. It is answered to whoever asked and audited once; it never fails, refuses
    or reports on the owner's execution."""

    def __init__(self, subject: str, holder: str = "", since: str = "",
                 status: str = "running") -> None:
        if status != "running":
            text = f"{subject} already ran meanwhile (now {status}); nothing more to do"
        else:
            text = f"{subject} is already running" + (
                f" (started by {holder} at {since})" if holder else "")
        super().__init__(text, gate="lease free")
        self.subject, self.holder, self.since, self.status = subject, holder, since, status


class LeaseHeld(Refused):
    """A lease this action needs is held by a different action."""

    def __init__(self, what: str, holder: str, since: str, kind: str = "sync") -> None:
        super().__init__(f"another {kind} is running on {what}: held by {holder} since {since}",
                         gate="lease free")
        self.what, self.holder, self.since = what, holder, since


class RelbotError(Exception):
    """Base class of relbot's own errors."""


class UsageError(RelbotError):
    """A command was malformed; the message is the usage text to show."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file: ``file:line: key.path: message``."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path or '<root>'}: {self.message}"


class ConfigError(RelbotError):
    """The config file is unreadable or invalid; ``issues`` lists every problem."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class NotFound(RelbotError):  # noqa: N818
    """A named thing does not exist: ``NotFound("sync", "docs")``."""

    def __init__(self, kind: str, value: str, hint: str = "") -> None:
        self.kind, self.value = kind, value
        msg = f"{kind} {value!r} not found"
        super().__init__(f"{msg}; {hint}" if hint else msg)


class InvalidValue(RelbotError):
    """A field has a value that cannot be used: ``InvalidValue("version", "1.x", "...")``."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field, self.value, self.reason = field, value, reason
        super().__init__(f"{field}={value!r}: {reason}")


class CommandFailed(RelbotError):
    """An external command (git, a check, a rollback script) failed."""

    def __init__(self, argv: list[str], returncode: int | None, output: str = "") -> None:
        self.argv, self.returncode, self.output = list(argv), returncode, output
        rc = "timed out" if returncode is None else f"exit {returncode}"
        tail = output.strip().splitlines()[-1:] if output.strip() else []
        super().__init__(f"{' '.join(argv[:3])}: {rc}" + (f": {tail[0]}" if tail else ""))


class NotVerified(RelbotError):
    """A sync's push landed (the target is at ``sha``) but the target does not hold exactly
    what the plan says."""

    def __init__(self, sha: str, problem: str) -> None:
        self.sha = sha
        super().__init__(f"verify {sha[:12]}: {problem}")


class StorageError(RelbotError):
    """The SQLite store refused an operation (e.g. tampering with the audit log)."""


class DatabaseBusy(StorageError):
    """Another process holds the database's write lock (try again later)."""

    def __init__(self, path: str, waited: float) -> None:
        self.path, self.waited = path, waited
        super().__init__(f"relbot's database {path} is locked by another writer "
                         f"(waited {waited:g} s)")


class DatabaseUnwritable(StorageError):
    """relbot cannot write its database (read-only file, directory or filesystem)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"relbot cannot write its database {path} ({reason})")


class IllegalMove(RelbotError):
    """A status change the action's status machine does not allow (a defect, not a race:
    a lost race is a compare-and-set that returns False)."""

    def __init__(self, kind: str, from_: str, to: str) -> None:
        super().__init__(f"a {kind} action cannot move from status {from_!r} to {to!r}")
        self.kind, self.from_, self.to = kind, from_, to
