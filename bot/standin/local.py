"""The whole bot on loopback: stand-in Web API + real Bolt HTTP endpoint + sender.

Used by ``relbot console`` and by the tests, so both see exactly the same thing.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.actions.kinds import APPROVAL_KINDS, ApprovalFollower
from bot.app import build_app, make_client
from bot.clock import Clock
from bot.config import Config, ConfigHolder
from bot.delivery import make_delivery
from bot.http import SlackHTTPServer
from bot.services import Services, build_services
from bot.standin.dispatcher import SlackSender
from bot.standin.webapi import FakeSlackAPI, Message


class LocalSlack:
    """Start everything in-process; ``sender`` speaks Slack to the bot over HTTP."""

    def __init__(self, config: Config | ConfigHolder, db_path: str | Path, *,
                 clock: Clock | None = None, real_time: bool = True,
                 api: FakeSlackAPI | None = None,
                 approval_kinds: Mapping[str, ApprovalFollower] = APPROVAL_KINDS) -> None:
        self.api = api or FakeSlackAPI().start()
        self.signing_secret = secrets.token_hex(16)
        holder = config if isinstance(config, ConfigHolder) else ConfigHolder(config)
        token = "xoxb-standin-" + secrets.token_hex(4)
        self.client = make_client(token, self.api.url)
        self.svc: Services = build_services(holder, db_path, client=self.client, clock=clock,
                                            real_time=real_time,
                                            delivery=make_delivery(token, self.api.url),
                                            approval_kinds=approval_kinds)
        self.app = build_app(self.svc, self.signing_secret, prechecked=True)
        self.http = SlackHTTPServer(self.app, self.signing_secret, "127.0.0.1", 0,
                                    metrics=self.svc.metrics.render if self.svc.metrics else None,
                                    health=self.svc.health)
        self.http.serve_in_thread()
        self.sender = SlackSender(self.http.url, self.signing_secret, self.api,
                                  channel=holder.current.channel)
        self.svc.outbox.start()
        if self.svc.scheduler is not None and real_time:
            self.svc.scheduler.start()
        self.wait_idle()  # what the bot posts at start-up is in Slack when this returns

    @property
    def state(self) -> Any:
        return self.api.state

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every listener and background task has finished and the outbox has
        delivered what it can (calls of methods the stand-in hangs or always fails aside)."""
        deadline = time.monotonic() + timeout
        blocked = self.api.faults.blocking
        while True:
            left = max(0.0, deadline - time.monotonic())
            if not self.svc.work.wait_idle(left):
                return False
            if not self.svc.outbox.wait_settled(max(0.0, deadline - time.monotonic()),
                                                ignore=blocked):
                return False
            if self.svc.work.pending == 0:
                return True

    def message(self, number: int) -> Message:
        return self.api.state.message(number)

    def close(self, keep_api: bool = False) -> None:
        """Stop the bot (and the stand-in Slack unless ``keep_api``: restart tests)."""
        self.wait_idle(10)
        self.http.stop()
        self.svc.close()
        if not keep_api:
            self.api.stop()
