"""``relbot run``: Socket Mode or the HTTP endpoint, with clean SIGTERM and SIGHUP reload."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.app import build_app, make_client
from bot.config import ConfigHolder, load_config
from bot.delivery import make_delivery
from bot.errors import ConfigError, DatabaseUnwritable, RelbotError
from bot.http import Endpoint, Ready
from bot.messages import post_message
from bot.redact import redactor_for, scrub_text
from bot.services import build_services
from storage.dialect import database_errors, redact_url

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger("relbot")


class ScrubbingFormatter(logging.Formatter):
    """Masks Slack tokens and, once the config is loaded, its ``secrets`` in every line
    (tracebacks included)."""

    def __init__(self, fmt: str) -> None:
        super().__init__(fmt)
        self.secrets: Callable[[], Iterable[str]] = tuple

    def format(self, record: logging.LogRecord) -> str:
        return scrub_text(super().format(record), self.secrets())


class JsonFormatter(ScrubbingFormatter):
    """One JSON object per line (``--log-format json``): ``ts`` (UTC), ``level``,
    ``logger``, ``message`` and, for exceptions, ``exc``; every value scrubbed."""

    def __init__(self) -> None:
        super().__init__("%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        secrets = redactor_for(self.secrets())
        out: dict[str, str] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname, "logger": record.name,
            "message": scrub_text(record.getMessage(), secrets)}
        if record.exc_info:
            out["exc"] = scrub_text(self.formatException(record.exc_info), secrets)
        return json.dumps(out, ensure_ascii=False)



def setup_logging(level: str = "INFO", log_format: str = "text") -> ScrubbingFormatter:
    """Log to stderr through a scrubbing formatter (returned, so the config's secrets can be
    plugged in once it is loaded); ``RELBOT_LOG_LEVEL`` overrides ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    fmt = JsonFormatter() if log_format == "json" else \
        ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(fmt)
    logging.basicConfig(level=os.environ.get("RELBOT_LOG_LEVEL", level), handlers=[handler])
    return fmt


def _need(name: str, what: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise SystemExit2(f"relbot: {name} is not set ({what})")
    return value


class SystemExit2(Exception):  # noqa: N818
    """A start-up problem reported as one line, exit code 2."""


def reload_config(svc: Services, holder: ConfigHolder, path: str) -> bool:
    """SIGHUP: swap in the new config, or keep the running one and say why -- in the log,
    the audit log and the channel. Never takes the bot down (a bomb, a bad key)."""
    try:
        new = holder.reload()
    except Exception as exc:  # ConfigError, or anything a hostile file provokes
        why = str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
        log.error("config reload failed, keeping the running config:\n%s", why)
        svc.audit.append("system", "config.reload_failed", path, {"error": why[:2000]})
        try:
            post_message(svc, f":warning: relbot kept its running config: reloading {path} "
                         f"failed:\n```{why[:2000]}```", None, holder.current.channel)
        except Exception:  # the log and the audit log have it
            log.warning("could not tell the channel about the failed reload")
        return False
    svc.groups.invalidate()
    svc.audit.append("system", "config.reloaded", path, {"channel": new.channel})
    log.info("config reloaded from %s", path)
    return True


def run_bot(args: argparse.Namespace) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code."""
    try:
        return _run(args)
    except SystemExit2 as exc:
        print(exc, file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"relbot: invalid config\n{exc}", file=sys.stderr)
        return 2
    except DatabaseUnwritable as exc:
        print(exc, file=sys.stderr)
        return 2
    except RelbotError as exc:  # e.g. an unset audit key
        print(f"relbot: {exc}", file=sys.stderr)
        return 2
    except database_errors() as exc:  # not a database, unreadable, unreachable
        print(f"relbot: cannot open database {redact_url(str(args.db))}: {exc}",
              file=sys.stderr)
        return 2


def readiness(svc: Services, socket: Any = None) -> Ready:
    """``/readyz``: the database takes a write transaction and (Socket Mode) the socket is
    connected; a replica that is not ready gets no traffic during a rolling deploy."""
    def ready() -> tuple[bool, str]:
        if not svc.db.writable():
            return False, "database not writable"
        if socket is not None and not socket.client.is_connected():
            return False, "socket mode not connected"
        return True, "ready"
    return ready


def _serve(endpoint: Endpoint, args: argparse.Namespace, port: int, what: str) -> Any:
    """Start waitress in a thread (the main thread waits for a signal) and say where."""
    from bot.wsgi import ServerLimits, WaitressServer

    server = WaitressServer(endpoint, args.host, port, ServerLimits(threads=args.threads))
    threading.Thread(target=server.serve_forever, daemon=True, name="relbot-http").start()
    where = f"http://{args.host}:{server.port}" + (f" ({what})" if what else "/slack/events")
    if args.log_format == "json":  # every stderr line stays one JSON object
        log.info("relbot listening on %s", where)
    else:
        print(f"relbot listening on {where}", file=sys.stderr, flush=True)
    return server


class Signals:
    """The main thread's wait for SIGTERM/SIGINT (stop) and SIGHUP (reload).

    The handlers do nothing but make Python write the signal number to a wakeup socket
    (:func:`signal.set_wakeup_fd`); the main thread blocks reading it and acts there. A
    handler that sets a ``threading.Event`` the main thread waits on loses signals: one that
    lands just before the wait blocks, or on another thread, leaves its Python handler pending
    until the main thread runs bytecode again -- never, so SIGTERM was ignored under load.
    """

    STOP = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._w.setblocking(False)  # set_wakeup_fd requires it; a full buffer drops bytes
        self._old_fd = signal.set_wakeup_fd(self._w.fileno(), warn_on_full_buffer=False)
        names = [*self.STOP] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
        self._old = {s: signal.signal(s, _noop) for s in names}

    def wait(self, on_hup: Callable[[], object]) -> int:
        """Block until SIGTERM or SIGINT (returned); call ``on_hup`` for each SIGHUP."""
        while True:
            for signum in self._r.recv(64):
                if signum in self.STOP:
                    return signum
                if signum == getattr(signal, "SIGHUP", None):
                    on_hup()

    def close(self) -> None:
        """Put back the previous handlers and wakeup fd."""
        for s, old in self._old.items():
            signal.signal(s, old)
        signal.set_wakeup_fd(self._old_fd)
        self._r.close()
        self._w.close()


def _noop(signum: int, frame: Any) -> None:
    """Python writes ``signum`` to the wakeup fd; :meth:`Signals.wait` acts on it."""


def _run(args: argparse.Namespace) -> int:
    token = _need("SLACK_BOT_TOKEN", "the bot token, xoxb-...")
    app_token = os.environ.get("SLACK_APP_TOKEN", "").strip()
    socket_mode = bool(app_token) and not args.http
    secret = "" if socket_mode else _need("SLACK_SIGNING_SECRET", "the app's signing secret")
    fmt = setup_logging(log_format=args.log_format)
    holder = ConfigHolder(load_config(args.config), args.config)
    fmt.secrets = lambda: holder.current.secrets  # follows SIGHUP reloads
    api_url = os.environ.get("SLACK_API_URL")
    client = make_client(token, api_url)
    svc = build_services(holder, args.db, client=client,
                         delivery=make_delivery(token, client.base_url))
    unwritable = svc.db.write_problem()
    if unwritable:
        svc.close()
        raise DatabaseUnwritable(args.db, unwritable)
    problem = svc.audit.behind_checkpoint()
    if problem:
        svc.close()
        raise SystemExit2(f"relbot: refusing to append: {problem}")
    app = build_app(svc, secret or "unused-in-socket-mode", socket_mode=socket_mode,
                    prechecked=True)  # bot.http.Endpoint checks every request first
    server: Any = None
    socket_handler: Any = None
    signals = Signals()
    svc.outbox.start()   # messages queued before a restart go out first
    svc.scheduler.start()
    svc.audit.append("system", "bot.started", "relbot",
                     {"mode": "socket" if socket_mode else "http"})
    metrics = svc.metrics.render if svc.metrics else None
    try:
        if socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            socket_handler = SocketModeHandler(app, app_token)
            if args.health_port is not None:
                server = _serve(Endpoint(None, "", metrics, readiness(svc, socket_handler),
                                         svc.health), args, args.health_port, "health checks")
            socket_handler.connect()
            log.info("connected in Socket Mode")
        else:
            server = _serve(Endpoint(app, secret, metrics, readiness(svc), svc.health), args,
                            args.port, "")
        signum = signals.wait(
            lambda: svc.work.submit(reload_config, svc, holder, str(args.config)))
        log.info("signal %s: shutting down", signum)
    finally:
        signals.close()
        if server is not None:
            server.shutdown()
        if socket_handler is not None:
            socket_handler.close()
        svc.audit.append("system", "bot.stopped", "relbot", {})
        svc.close()
    return 0
