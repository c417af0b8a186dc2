"""``relbot console``: chat with the real bot through the built-in Slack stand-in.

Type slash commands as a user; the bot's messages are printed, numbered, with Block Kit
rendered as text. Reads stdin, so a piped script works; ``relbot demo`` plays a whole
story through the same :class:`Console`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from bot.clock import FakeClock
from bot.config import ConfigHolder, load_config
from bot.configbase import parse_duration
from bot.runner import setup_logging
from bot.standin.faults import parse_fault_command
from bot.standin.github_console import HELP as GITHUB_HELP
from bot.standin.local import LocalSlack
from bot.standin.modals import Modal
from bot.standin.webapi import Message
from bot.words import split_words

HELP = """\
Console commands:
  /release ... | /sync ... | /rollback ...   a slash command, typed by the current user
  as USER                       switch user (e.g. as U0BOB)
  react REACTION N              react to message N (e.g. react white_check_mark 3)
  unreact REACTION N            remove that reaction
  click N ACTION_ID [VALUE]     click a button on message N
  click home ACTION_ID [VALUE]  click a button on your App Home tab
  tick N ACTION_ID [V1,V2]      set the checkboxes ACTION_ID on message N
  set N FIELD=VALUE ...          fill in modal N (a select may update the modal at once)
  submit N [FIELD=VALUE ...]    fill in modal N and press its submit button
  home                          open the App Home tab
  group @HANDLE USER...         set the members of a Slack user group
  advance DURATION              move the fake clock (needs --clock), run due jobs
  show N                        print message N again
  fault METHOD STATUS [N|always] [ERROR] [retry-after=S]
                                make the next N (default 1) Slack calls of METHOD fail,
                                e.g. fault chat.update 500 3, fault chat.postMessage 429
  fault METHOD delay S | fault METHOD hang | fault clear [METHOD] | fault
                                slow down / hang a method, clear faults, list them
  audit [N]                     the last N audit entries (default 10)
  help | quit"""


_EXTRA_HELP = {"github": "With --fake-github:\n" + GITHUB_HELP}


class Console:
    """The REPL over a :class:`LocalSlack`."""

    def __init__(self, local: LocalSlack, out: TextIO, user: str = "U0ALICE",
                 clock: FakeClock | None = None) -> None:
        self.local, self.out, self.user, self.clock = local, out, user, clock
        self._seen = 0
        self._shown: dict[int, list[str]] = {}  # what we last printed of each message
        self.extra: dict[str, Callable[[list[str]], str]] = {}  # e.g. github (--fake-github)

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _flush(self) -> None:
        self.local.wait_idle()
        events = self.local.state.transcript
        for kind, item in events[self._seen:]:
            self._print(kind, item)
        self._seen = len(events)

    def _print(self, kind: str, item: Message | dict | Modal) -> None:
        if isinstance(item, Modal):
            self._print_modal(kind, item)
            return
        if kind == "view":
            from bot.render.common import blocks_to_text

            assert isinstance(item, dict)
            self.say(f"[home of {item['user']}]\n" + _indent(
                blocks_to_text(item["view"].get("blocks"), "")))
            return
        assert isinstance(item, Message)
        if item.kind in ("ephemeral", "response"):
            self.say(f"(only {item.to_user} sees) " + _indent(item.rendered, first=False))
            return
        where = f" in thread of #{self._number_of(item.thread_ts)}" if item.thread_ts else ""
        lines = item.rendered.splitlines()
        before = self._shown.get(item.number)
        self._shown[item.number] = lines
        if kind == "update" and before is not None:
            # Print only what changed: a message updated in place ten times stays readable.
            changed = [ln for ln in lines if ln not in before]
            if changed:
                self.say(f"[{item.number}] relbot updated{where} (changed lines):\n"
                         + _indent("\n".join(changed)))
        else:
            label = "updated" if kind == "update" else "posted"
            self.say(f"[{item.number}] relbot {label}{where}:\n" + _indent(item.rendered))
        for att in item.attachments or []:
            if "file" in att:
                self.say(_indent(f"(file {att['file']})\n{att['content']}"))

    def _print_modal(self, kind: str, m: Modal) -> None:
        lines = m.rendered.splitlines()
        key = -m.number  # modals share _shown with messages under negative numbers
        before = self._shown.get(key) or []
        self._shown[key] = lines
        if kind == "modal":
            self.say(f"[modal {m.number}] opened for {m.user}:\n" + _indent(m.rendered))
        elif kind == "modal-update":
            changed = [ln for ln in lines if ln not in before]
            if changed:  # two quick updates: the first print already shows the latest view
                self.say(f"[modal {m.number}] updated (changed lines):\n"
                         + _indent("\n".join(changed)))
        elif kind == "modal-errors":
            self.say(f"[modal {m.number}] not submitted; shown in the modal:\n" + _indent(
                "\n".join(f"{k}: {v}" for k, v in m.errors.items())))
        else:
            self.say(f"[modal {m.number}] submitted and closed")

    def _fill(self, args: list[str], submit: bool) -> None:
        modal = self.local.state.modals[int(args[0]) - 1]
        values = {}
        for w in args[1:]:
            key, sep, value = w.partition("=")
            if not sep:
                raise ValueError(f"{w!r}: write FIELD=VALUE")
            values[key] = value
        for key, value in values.items():  # selects first: the modal may change with them
            self.local.sender.choose(self.user, modal, key, value)
            self.local.wait_idle()
        if submit:
            self.local.sender.submit(self.user, modal, {})

    def _number_of(self, ts: str | None) -> str:
        for m in self.local.state.messages:
            if m.ts == ts:
                return str(m.number)
        return "?"

    def handle(self, line: str) -> bool:
        """Run one console line; False means quit."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        self.say(f"{self.user}> {line}")
        words = split_words(line)  # the bot's own word splitting: "won't" is one word
        head, args = words[0], words[1:]
        sender = self.local.sender
        try:
            if head.startswith("/"):
                res = sender.command(self.user, line)
                if res.status != 200:
                    self.say(f"(HTTP {res.status}) {res.body}")
                elif res.text:
                    self.say(f"(only {self.user} sees) " + _indent(res.text, first=False))
            elif head == "as" and args:
                self.user = args[0]
                self.local.state.add_user(self.user)
            elif head in ("react", "unreact") and len(args) == 2:
                sender.react(self.user, self.local.message(int(args[1])), args[0],
                             removed=head == "unreact")
            elif head == "click" and len(args) >= 2 and args[0] == "home":
                sender.home_click(self.user, args[1], args[2] if len(args) > 2 else None)
            elif head == "click" and len(args) >= 2:
                sender.click(self.user, self.local.message(int(args[0])), args[1],
                             args[2] if len(args) > 2 else None)
            elif head == "tick" and len(args) >= 2:
                values = args[2].split(",") if len(args) > 2 else []
                sender.tick(self.user, self.local.message(int(args[0])), args[1], values)
            elif head in ("set", "submit") and args:
                self._fill(args, head == "submit")
            elif head == "home":
                sender.home_opened(self.user)
            elif head == "group" and args:
                self._set_group(args[0], args[1:])
            elif head == "advance" and args:
                if self.clock is None:
                    self.say("console: start with --clock ISO to move time")
                else:
                    until = self.clock.now() + parse_duration(args[0])
                    sched, ran = self.local.svc.scheduler, 0
                    if sched:
                        ran = sched.pass_time(self.clock, until)
                    else:
                        self.clock.set(until)
                    self.say(f"(clock now {self.clock.now().isoformat()}, {ran} jobs ran)")
            elif head == "show" and args:
                msg = self.local.message(int(args[0]))
                self._print("post", msg)
                for line in _controls(msg):
                    self.say(_indent(line))
            elif head == "fault":
                self.say(parse_fault_command(self.local.state.faults, args))
            elif head == "audit":
                n = int(args[0]) if args else 10
                for e in list(self.local.svc.audit.entries())[-n:]:
                    self.say(f"  #{e.seq} {e.ts} {e.actor} {e.action} {e.subject}")
            elif head in ("quit", "exit"):
                return False
            elif head in self.extra:
                self.say(self.extra[head](args))
            elif head == "help":
                self.say(HELP + "".join("\n" + _EXTRA_HELP.get(k, "") for k in self.extra))
            else:
                self.say(f"console: unknown input {head!r} (type help)")
        except (IndexError, ValueError, LookupError) as exc:
            self.say(f"console: {exc}")
        self._flush()
        return True

    def _set_group(self, handle: str, members: list[str]) -> None:
        st = self.local.state
        name = handle.lstrip("@")
        for gid, g in list(st.groups.items()):
            if g["handle"] == name:
                del st.groups[gid]
        st.add_group(name, members)
        self.local.svc.groups.invalidate()
        self.say(f"(@{name} = {', '.join(members) or 'nobody'})")


def _indent(text: str, first: bool = True) -> str:
    lines = text.splitlines() or [""]
    head = ("    " if first else "") + lines[0]
    return "\n".join([head] + ["    " + ln for ln in lines[1:]])


def _controls(msg: Message) -> list[str]:
    """What ``click``/``tick`` can do on ``msg``: ids and values, as you would type them."""
    out = []
    for block in msg.blocks or []:
        elements = list(block.get("elements") or [])
        if block.get("accessory"):
            elements.append(block["accessory"])
        for el in elements:
            if el.get("type") == "button":
                out.append(f"click {msg.number} {el.get('action_id')} {el.get('value', '')}")
            elif el.get("type") == "checkboxes":
                values = ",".join(o.get("value", "") for o in el.get("options", []))
                out.append(f"tick {msg.number} {el.get('action_id')} [{values}]")
    return out


def run_console(config_path: str, db_path: str | None, stdin: TextIO, stdout: TextIO,
                clock: str | None = None, fake_github: bool = False) -> int:
    """Run the console until EOF or ``quit``; returns the exit code."""
    tmp = tempfile.TemporaryDirectory(prefix="relbot-console-")
    play = None
    if fake_github:  # a GitHub stand-in on loopback (bot/standin/github_console.py)
        from bot.standin.github_console import prepare

        play, cfg, config_path, note = prepare(config_path, Path(tmp.name) / "github")
        print(f"({note})", file=stdout, flush=True)
    else:
        cfg = load_config(config_path)
    setup_logging("WARNING").secrets = lambda: cfg.secrets
    if db_path is None:
        db_path = str(Path(tmp.name) / "console.db")
    try:
        fake = FakeClock(clock) if clock else None
    except ValueError:
        print(f"relbot: --clock {clock!r} is not an ISO date-time like 2026-11-24T09:00:00Z",
              file=stdout)
        return 2
    local = LocalSlack(ConfigHolder(cfg, config_path), db_path, clock=fake,
                       real_time=fake is None)
    users = {p for p in cfg.approvers if not p.startswith("@")} | {"U0ALICE", "U0BOB", "U0CAROL"}
    for u in sorted(users):
        local.state.add_user(u)
    console = Console(local, stdout, clock=fake)
    if play is not None:
        console.extra["github"] = play.handle
    interactive = stdin.isatty()
    console.say(f"relbot console: channel {cfg.channel}, you are {console.user}. Type help.")
    try:
        while True:
            if interactive:
                print(f"{console.user}> ", end="", file=stdout, flush=True)
            line = stdin.readline()
            if not line or not console.handle(line):
                break
    finally:
        local.close()
        if play is not None:
            play.close()
        tmp.cleanup()
    return 0
