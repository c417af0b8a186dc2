"""Chat-style test driver: send a command as a user, read what the bot said.

    chat = Chat(tmp_path, CONFIG)
    reply = chat.command("U0ALICE", "/sync plan docs")
    assert "3 added" in chat.last().text
    chat.react("U0BOB", chat.last(), "white_check_mark")

Everything goes over real HTTP: signed requests into the real Bolt endpoint, and the bot's
Web API calls into the stand-in server, which records them.
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import tempfile
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.actions.kinds import APPROVAL_KINDS, ApprovalFollower
from bot.clock import FakeClock
from bot.config import ConfigHolder, load_config
from bot.standin.dispatcher import HTTPResult
from bot.standin.local import LocalSlack
from bot.standin.webapi import FakeSlackAPI, Message

BASE_CONFIG = """\
channel: C0RELEASES
timezone: Europe/Berlin
approvers: [U0ALICE, U0BOB, "@release-managers"]
approval:
  reactions: [white_check_mark, "+1"]
  quorum: 2
  allow_self_approval: false
"""


@dataclass
class Said:
    """What a user saw after one action: the HTTP ack and anything new the bot posted."""

    http: HTTPResult
    private: list[Message] = field(default_factory=list)
    posted: list[Message] = field(default_factory=list)

    @property
    def status(self) -> int:
        return self.http.status

    @property
    def ack(self) -> str:
        return self.http.text

    @property
    def text(self) -> str:
        """Everything the user was shown privately: the ack text then each ephemeral reply."""
        parts = [self.ack] if self.ack else []
        parts += [m.rendered for m in self.private]
        return "\n".join(parts)


_first_db: list[Path] = []


def new_database(dest: Path) -> None:
    """A new SQLite database at ``dest`` as a bot's first start leaves it (schema only): a
    copy of the one the first chat of this process made. Migrating a new file costs each
    chat ~15 ms of CPU and ~60 ms of waiting on the disk; migrations of new and older
    files are tested on their own (``tests/test_db_cli.py``, ``tests/test_foundation_cli.py``,
    ``tests/test_storage_contract.py``)."""
    if not _first_db:
        home = Path(tempfile.mkdtemp(prefix="relbot-test-db-"))
        atexit.register(shutil.rmtree, home, True)
        (home / "relbot.yml").write_text(BASE_CONFIG)
        holder = ConfigHolder(load_config(home / "relbot.yml"), home / "relbot.yml")
        LocalSlack(holder, home / "relbot.db", clock=FakeClock("2026-11-24T09:00:00+00:00"),
                   real_time=False).close()
        with sqlite3.connect(home / "relbot.db") as raw:   # all in the file, none in a WAL
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            assert [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE "
                                               "type = 'table'")
                    if raw.execute(f'SELECT COUNT(*) FROM "{r[0]}"').fetchone()[0]
                    ] == ["schema_version"], "a first start wrote rows: not a new database"
        _first_db.append(home / "relbot.db")
    shutil.copyfile(_first_db[0], dest)


class Chat:
    """A running bot plus a fake Slack, driven like a chat transcript."""

    def __init__(self, tmp_path: Path, config: str = BASE_CONFIG, *,
                 clock: FakeClock | None = None, users: tuple[str, ...] = (
                     "U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"),
                 groups: dict[str, list[str]] | None = None, real_time: bool = False,
                 api: FakeSlackAPI | None = None, database: str | None = None,
                 approval_kinds: Mapping[str, ApprovalFollower] = APPROVAL_KINDS) -> None:
        self.tmp = Path(tmp_path)
        self.config_path = self.tmp / "relbot.yml"
        self.config_path.write_text(textwrap.dedent(config))
        self.database = database  # a postgresql:// URL, or None for relbot.db in tmp
        self.db_path: Path | str = database or self.tmp / "relbot.db"
        self.clock = clock or FakeClock("2026-11-24T09:00:00+00:00")
        self.holder = ConfigHolder(load_config(self.config_path), self.config_path)
        self._config, self._real_time = config, real_time
        self._approval_kinds = approval_kinds  # the app's table; a test may add a kind
        if database is None and not Path(self.db_path).exists():
            new_database(Path(self.db_path))
        self.local = LocalSlack(self.holder, self.db_path, clock=self.clock, real_time=real_time,
                                api=api, approval_kinds=approval_kinds)
        self.api, self.sender, self.svc = self.local.api, self.local.sender, self.local.svc
        if api is not None:  # a restart: Slack already knows the users and groups
            return
        for u in users:
            self.api.state.add_user(u)
        for handle, members in (groups or {"release-managers": ["U0CAROL"]}).items():
            self.api.state.add_group(handle, members)

    # --- acting ------------------------------------------------------------------
    def _did(self, fn: Any, *args: Any, **kwargs: Any) -> Said:
        st = self.api.state
        n_private, n_posted = len(st.private), len(st.messages)
        http = fn(*args, **kwargs)
        self.local.wait_idle()
        return Said(http, st.private[n_private:], st.messages[n_posted:])

    def command(self, user: str, line: str, channel: str | None = None) -> Said:
        return self._did(self.sender.command, user, line, channel)

    def react(self, user: str, message: Message | int, reaction: str = "white_check_mark",
              **kw: Any) -> Said:
        return self._did(self.sender.react, user, self._msg(message), reaction, **kw)

    def unreact(self, user: str, message: Message | int, reaction: str = "white_check_mark",
                **kw: Any) -> Said:
        return self._did(self.sender.react, user, self._msg(message), reaction, removed=True,
                         **kw)

    def click(self, user: str, message: Message | int, action_id: str,
              value: str | None = None) -> Said:
        return self._did(self.sender.click, user, self._msg(message), action_id, value)

    def tick(self, user: str, message: Message | int, action_id: str,
             selected: list[str]) -> Said:
        return self._did(self.sender.tick, user, self._msg(message), action_id, selected)

    def choose(self, user: str, modal: int, block_id: str, value: str) -> Said:
        """Pick ``value`` in a select of modal number ``modal`` (1-based)."""
        return self._did(self.sender.choose, user, self.api.state.modals[modal - 1], block_id,
                         value)

    def submit(self, user: str, modal: int, **values: str) -> Said:
        """Type ``values`` into modal number ``modal`` and press its submit button."""
        return self._did(self.sender.submit, user, self.api.state.modals[modal - 1], values)

    def home(self, user: str) -> Said:
        """``user`` opens the App Home tab."""
        return self._did(self.sender.home_opened, user)

    def home_text(self, user: str) -> str:
        """``user``'s App Home tab as last published, as text."""
        from bot.render.common import blocks_to_text

        return blocks_to_text((self.api.state.views.get(user) or {}).get("blocks"), "")

    def home_click(self, user: str, action_id: str, value: str | None = None) -> Said:
        """Click a button on ``user``'s App Home tab."""
        return self._did(self.sender.home_click, user, action_id, value)

    def event(self, event: dict, **kw: Any) -> Said:
        return self._did(self.sender.event, event, **kw)

    def wait(self) -> Chat:
        """Wait for background work and the outbox (after calling the core directly)."""
        self.local.wait_idle()
        return self

    def run_due(self) -> int:
        """Run scheduler jobs due by the fake clock, then wait for their work."""
        n = self.svc.scheduler.run_due() if self.svc.scheduler else 0
        self.local.wait_idle()
        return n

    # --- reading -------------------------------------------------------------------
    def _msg(self, m: Message | int) -> Message:
        return self.api.state.message(m) if isinstance(m, int) else m

    @property
    def messages(self) -> list[Message]:
        return list(self.api.state.messages)

    def last(self, thread_of: Message | None = None) -> Message:
        msgs = [m for m in self.messages
                if thread_of is None or m.thread_ts == thread_of.ts]
        return msgs[-1]

    def thread(self, parent: Message) -> list[Message]:
        return [m for m in self.messages if m.thread_ts == parent.ts]

    def audit(self, action_prefix: str = "") -> list[Any]:
        return list(self.svc.audit.entries(action_prefix=action_prefix or None))

    def restart(self) -> Chat:
        """Stop this bot and start a new one on the same database, config and Slack."""
        self.local.close(keep_api=True)
        return Chat(self.tmp, self._config, clock=self.clock, real_time=self._real_time,
                    api=self.api, database=self.database, approval_kinds=self._approval_kinds)

    def close(self) -> None:
        self.local.close()
