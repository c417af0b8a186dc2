"""The one slash-command dispatcher: parse -> audit -> authorise -> ack -> run -> reply.

Every command (``/release``, ``/sync``, ``/rollback``) is a table of subcommands
(:class:`SubcommandSpec`); :func:`register_command` wires one table into Bolt. Listeners run
in the request (``process_before_response``: Bolt answers when the listener returns), so
each one only decides its ack and hands the rest to ``svc.work``: the subcommand runs
*after* the ack, and slow work never breaks Slack's 3-second rule.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.errors import DatabaseUnwritable, Refused, RelbotError, UsageError
from bot.groups import describe
from bot.messages import post_message, update_message
from bot.redact import scrub, scrub_text
from bot.words import OPTION, split_words
from storage.db import is_busy

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)
MAX_TEXT = 40_000  # Slack's own limit for message text; no real command comes near it

DB_WAIT = 300.0   # seconds after-ack work waits for another process's write lock, then says so


@dataclass(frozen=True)
class Command:
    """A parsed slash command: ``/sync plan docs force=yes`` -> sub, args, opts."""

    name: str
    sub: str
    args: tuple[str, ...]
    opts: dict[str, str]
    text: str
    user: str
    channel: str
    response_url: str = ""
    trigger_id: str = ""
    words: tuple[str, ...] = ()

    def arg(self, i: int, default: str | None = None) -> str | None:
        return self.args[i] if i < len(self.args) else default

    def rest(self, start: int = 0) -> str:
        """Positional words from ``start`` joined (free text such as a reason)."""
        return " ".join(self.args[start:])


@dataclass(frozen=True)
class Reply:
    """What a subcommand answers: ephemeral to the user unless ``public``."""

    text: str
    blocks: list[dict[str, Any]] | None = None
    public: bool = False


@dataclass(frozen=True)
class SubcommandSpec:
    run: Callable[[CommandContext], Reply | str | None]
    usage: str                      # arguments after the subcommand, e.g. "NAME"
    summary: str
    permission: str | None = "default"  # "default" = the command's; None = anyone
    ack_text: str | None = None     # shown at once while slow work runs
    check: Callable[[Command], Any] | None = None  # fast, pure: a UsageError is the ack
    free_text: bool = False  # key=value words may be prose (a reason); it checks its options
    modal: Callable[[Services, Command], None] | None = None  # no arguments: open this form


@dataclass(frozen=True)
class CommandSpec:
    name: str
    summary: str
    permission: str | None
    subcommands: dict[str, SubcommandSpec]
    default: str | None = None      # subcommand used when the first word is not one
    aliases: dict[str, str] = field(default_factory=dict)
    empty: str | None = None        # subcommand run for an empty text (its modal opens)


class CommandContext:
    """What a running subcommand can use: services, the command, and ways to answer."""

    def __init__(self, svc: Services, cmd: Command,
                 respond: Callable[..., Any] | None = None) -> None:
        self.svc, self.cmd, self._respond = svc, cmd, respond

    @property
    def config(self) -> Any:
        return self.svc.config.current

    def post(self, text: str, blocks: list[dict] | None = None, channel: str | None = None,
             thread_ts: str | None = None) -> str:
        """Post to ``channel`` (default: the configured channel); returns the message ts."""
        return post_message(self.svc, text, blocks, channel or self.config.channel, thread_ts)

    def update(self, channel: str, ts: str, text: str, blocks: list[dict] | None = None) -> None:
        update_message(self.svc, channel, ts, text, blocks)

    def respond(self, text: str, blocks: list[dict] | None = None) -> None:
        """Answer the user ephemerally (response_url, else chat.postEphemeral)."""
        text, blocks = scrub_text(text, self.config.secrets), scrub(blocks, self.config.secrets)
        if self._respond is not None and self.cmd.response_url:
            self._respond(text=text, blocks=blocks, response_type="ephemeral")
        else:
            self.svc.client.chat_postEphemeral(channel=self.cmd.channel, user=self.cmd.user,
                                               text=text, blocks=blocks)

    def audit(self, action: str, subject: str = "", payload: dict | None = None) -> None:
        self.svc.audit.append(self.cmd.user, action, subject or self.cmd.name, payload or {})


def parse_command(spec: CommandSpec, text: str, user: str, channel: str,
                  response_url: str = "", trigger_id: str = "") -> Command:
    """Split ``text`` into subcommand, positional args and ``key=value`` options."""
    words = split_words(text)
    sub = words[0].lower() if words else (spec.empty or "")
    rest = words[1:]
    sub = spec.aliases.get(sub, sub)
    if words and sub not in spec.subcommands and sub != "help" and spec.default:
        sub, rest = spec.default, words
    args, opts = [], {}
    for w in rest:
        m = OPTION.match(w)
        if m:
            key, value = m.group(1).lower(), m.group(2)
            sub_spec = spec.subcommands.get(sub)
            if key in opts and opts[key] != value and not (sub_spec and sub_spec.free_text):
                raise UsageError(f"{key}= is given twice ({opts[key]} and {value}); give it once")
            opts[key] = value
        else:
            args.append(w)
    return Command(spec.name, sub, tuple(args), opts, text, user, channel, response_url,
                   trigger_id, tuple(rest))


def _sub_of(spec: CommandSpec, text: str) -> str | None:
    """The subcommand ``text`` is about, for a usage line (None: unknown, show them all)."""
    first = (text.split() or [""])[0].lower()
    sub = spec.aliases.get(first, first)
    return sub if sub in spec.subcommands else (spec.default if first else None)


_USAGE: dict[tuple[int, str | None, tuple[int, ...]], str] = {}


def usage_text(spec: CommandSpec, only: str | None = None) -> str:
    """The ephemeral usage message for ``spec`` (or one subcommand), built once per table."""
    key = (id(spec), only, tuple(map(id, spec.subcommands.values())))
    text = _USAGE.get(key)
    if text is None:
        if len(_USAGE) > 256:
            _USAGE.clear()
        text = _USAGE[key] = _usage_text(spec, only)
    return text


def _usage_text(spec: CommandSpec, only: str | None) -> str:
    lines = [f"*{spec.name}* — {spec.summary}"]
    for name, sub in spec.subcommands.items():
        if only and name != only:
            continue
        shown = " ".join(x for x in (spec.name, name, sub.usage) if x)
        lines.append(f"• `{shown}` — {sub.summary}")
    if not only:
        lines.append(f"• `{spec.name} help` — this message")
    return "\n".join(lines)


def _permission(spec: CommandSpec, sub: SubcommandSpec) -> str | None:
    return spec.permission if sub.permission == "default" else sub.permission


def register_command(app: Any, spec: CommandSpec) -> None:
    """Wire one command table into Bolt: the listener answers in the request (Bolt sends the
    ack when it returns) and leaves everything after the ack to ``svc.work``."""

    @app.command(spec.name)
    def _listener(ack: Any, body: dict, context: Any, respond: Any) -> None:
        svc = context["svc"]
        answer, after = answer_command(svc, spec, body, respond)
        ack(**answer)
        if after is not None:
            after_ack(svc, after)


AfterAck = Callable[[], object]


def after_ack(svc: Services, fn: Callable[..., object], *args: Any) -> None:
    """Run ``fn(*args)`` on ``svc.work``, after the listener returned (and so after the ack);
    a fault is logged as one in a listener is (``bot.app``'s error handler)."""
    svc.work.submit(_logged, fn, *args)


def _logged(fn: Callable[..., object], *args: Any) -> None:
    try:
        fn(*args)
    except Exception as exc:
        log.error("unhandled error: %s", type(exc).__name__, exc_info=exc)


def _ephemeral(text: str) -> dict[str, str]:
    return {"response_type": "ephemeral", "text": text}


def answer_command(svc: Services, spec: CommandSpec, body: dict, respond: Any
                   ) -> tuple[dict[str, str], AfterAck | None]:
    """What the ack of slash command ``body`` says (parse -> usage/refusal, else the
    subcommand's ack text) and the work to run after it (the subcommand, or appending the
    queued audit entries). Nothing here touches the database: the ack never waits for it."""
    user, channel = body.get("user_id", ""), body.get("channel_id", "")
    text = (body.get("text") or "").strip()

    def audited(action: str, payload: dict) -> AfterAck | None:
        return _audit_later(svc, user, action, spec.name, payload)

    if len(text) > MAX_TEXT:  # before any parsing: the ack stays within 3 seconds
        return _ephemeral(f":warning: That command is {len(text):,} characters long; "
                          f"{spec.name} takes at most {MAX_TEXT:,}."), audited(
            "command.usage", {"text": text[:200], "length": len(text), "error": "text too long"})
    try:
        cmd = parse_command(spec, text, user, channel, body.get("response_url", ""),
                            body.get("trigger_id", ""))
    except UsageError as exc:
        return _ephemeral(f"{exc}\n\n{usage_text(spec, _sub_of(spec, text))}"), audited(
            "command.usage", {"text": text, "error": str(exc)})
    sub = spec.subcommands.get(cmd.sub)
    if sub is None:
        unknown = cmd.sub and cmd.sub != "help"
        prefix = f"Unknown subcommand `{cmd.sub}`.\n\n" if unknown else ""
        return _ephemeral(prefix + usage_text(spec)), audited(
            "command.usage", {"text": text, "channel": channel})
    perm = _permission(spec, sub)
    allowed = getattr(svc.config.current.permissions, perm) if perm else None
    if not svc.groups.allowed(user, allowed):
        return _ephemeral(f":no_entry: `{spec.name} {cmd.sub}` is limited to "
                          f"{describe(allowed)}."), audited("command.refused", {
            "text": text, "channel": channel, "reason": f"not in permissions.{perm}"})
    if sub.modal is not None and not cmd.words and cmd.trigger_id:
        modal = sub.modal

        def open_modal() -> None:
            svc.audit.append(user, "command.modal", spec.name, {"sub": cmd.sub,
                                                                "channel": channel})
            modal(svc, cmd)
        return {}, open_modal
    try:
        if sub.check is not None:
            sub.check(cmd)
    except UsageError as exc:
        return _ephemeral(f"{exc}\n\n{usage_text(spec, cmd.sub)}"), audited(
            "command.usage", {"text": text, "error": str(exc)})
    return (_ephemeral(sub.ack_text) if sub.ack_text else {}), (
        lambda: _run_after_ack(svc, spec, sub, cmd, respond))


def _run_after_ack(svc: Services, spec: CommandSpec, sub: SubcommandSpec, cmd: Command,
                   respond: Any) -> None:
    """The ``command`` audit entry, then the subcommand. The database may be locked by
    another process for a while, or have turned read-only since the ack."""
    try:
        recorded = _audit(svc, cmd.user, "command", spec.name,
                          {"sub": cmd.sub, "text": cmd.text, "channel": cmd.channel})
    except DatabaseUnwritable as exc:
        log.error("%s", exc)
        _safe_respond(CommandContext(svc, cmd, respond), f":warning: {exc}; nothing was done.")
        return
    if not recorded:
        _safe_respond(CommandContext(svc, cmd, respond),
                      f":warning: `{spec.name} {cmd.text}` did not run: relbot's database stayed "
                      f"busy (locked by another process) for {DB_WAIT:g} s. Nothing was "
                      "changed; please try again.")
        return
    run_subcommand(svc, spec, sub, cmd, respond)


def _audit_later(svc: Services, user: str, action: str, subject: str, payload: dict
                 ) -> AfterAck | None:
    """An audit entry nothing waits for (a usage answer, a refusal): queued in memory, and
    appended after the ack with the others queued meanwhile, in one transaction (waiting out
    a locked database). Returns that flush when none is due yet."""
    if svc.audit.append_later(user, action, subject, payload):
        return lambda: when_writable(svc, svc.audit.flush)
    return None


def _audit(svc: Services, user: str, action: str, subject: str, payload: dict) -> bool:
    """An audit entry written after the ack (waits out a locked database)."""
    return when_writable(svc, lambda: svc.audit.append(user, action, subject, payload))


def when_writable(svc: Services, first_write: Callable[[], Any], wait: float | None = None) -> bool:
    """Run ``first_write`` (the first, idempotent write of work done after an ack), retrying
    while another process holds the database's write lock, for up to ``wait`` (DB_WAIT)
    seconds; False if it never got through (the caller tells the user)."""
    deadline = time.monotonic() + (DB_WAIT if wait is None else wait)
    while True:
        try:
            first_write()
            return True
        except Exception as exc:
            if not is_busy(exc):
                raise
            if time.monotonic() >= deadline:
                log.error("database still locked after %.0f s: giving up", DB_WAIT)
                return False
            log.warning("database busy (locked by another process); retrying")
            time.sleep(0.1)


def run_subcommand(svc: Services, spec: CommandSpec, sub: SubcommandSpec, cmd: Command,
                   respond: Callable[..., Any] | None) -> None:
    """Run after the ack; every outcome reaches the user, faults never as a traceback."""
    ctx = CommandContext(svc, cmd, respond)
    try:
        result = sub.run(ctx)
        if isinstance(result, str):
            result = Reply(result)
        if result is not None:
            if result.public:
                ctx.post(result.text, result.blocks, channel=cmd.channel)
            else:
                ctx.respond(result.text, result.blocks)
    except Refused as exc:
        if not exc.audited:
            svc.audit.append(cmd.user, "command.refused", spec.name, {
                "sub": cmd.sub, "text": cmd.text, "reason": exc.message})
        _safe_respond(ctx, f":no_entry: {exc.message}")
    except UsageError as exc:
        _safe_respond(ctx, f"{exc}\n\n{usage_text(spec, cmd.sub)}")
    except DatabaseUnwritable as exc:  # nothing can be recorded: say so, claim nothing
        log.error("%s", exc)
        _safe_respond(ctx, f":warning: {exc}; nothing was done.")
    except RelbotError as exc:
        svc.audit.append(cmd.user, "command.failed", spec.name, {
            "sub": cmd.sub, "text": cmd.text, "error": str(exc)})
        _safe_respond(ctx, f":warning: {exc}")
    except Exception as exc:
        ref = "E-" + hashlib.sha256(f"{time.time_ns()}".encode()).hexdigest()[:6]
        log.error("internal error %s in %s %s: %s", ref, cmd.name, cmd.sub,
                  scrub_text(repr(exc), svc.config.current.secrets), exc_info=True)
        svc.audit.append(cmd.user, "command.error", spec.name, {
            "sub": cmd.sub, "text": cmd.text, "ref": ref, "error": type(exc).__name__})
        _safe_respond(ctx, f":boom: Internal error ({ref}); nothing was changed by the failed "
                           "step. The details are in the bot's log.")


def _safe_respond(ctx: CommandContext, text: str) -> None:
    try:
        ctx.respond(text)
    except Exception:
        log.exception("could not deliver a reply to %s", ctx.cmd.user)
