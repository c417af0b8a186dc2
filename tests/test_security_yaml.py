"""Issue 13 Why-4: YAML alias bombs and oversized files, in config, SIGHUP and synced repos."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot import safeyaml
from bot.runner import reload_config
from tests.cli import relbot
from tests.harness import BASE_CONFIG
from tests.test_sync_plan import make_remote

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_bounded_loader_refuses_bombs_and_recursion_with_a_line() -> None:
    with pytest.raises(safeyaml.YAMLLimitError) as exc:
        safeyaml.load(BOMB)
    assert exc.value.line in range(2, 10) and "expands to more than" in exc.value.problem
    with pytest.raises(safeyaml.YAMLLimitError):
        safeyaml.load("a: &a [*a, *a]\n")  # a recursive anchor never ends
    with pytest.raises(safeyaml.YAMLLimitError) as exc:
        safeyaml.load("x: 1\n" * 10, max_bytes=20)
    assert exc.value.line == 1 and "limit is 20" in exc.value.problem
    assert safeyaml.load("a: &x {k: 1}\nb: *x\n") == {"a": {"k": 1}, "b": {"k": 1}}


def test_check_config_with_an_alias_bomb_is_a_file_line_error(tmp_path: Path) -> None:
    """`check-config` ended in a MemoryError traceback."""
    (tmp_path / "relbot.yml").write_text("channel: C0RELEASES\n" + BOMB)
    r = relbot("check-config", "relbot.yml", cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("relbot.yml:") and "expands to more than" in r.stderr, r.stderr
    big = tmp_path / "big.yml"
    big.write_text("channel: C0RELEASES\n" + "# padding\n" * 120_000)
    r = relbot("check-config", str(big), cwd=tmp_path)
    assert r.returncode == 1 and f"{big}:1: <root>: file is" in r.stderr, r.stderr


def test_sighup_with_a_bomb_keeps_the_running_config_and_says_why(make_chat, caplog) -> None:
    """The same file loaded on SIGHUP took the running bot down."""
    chat = make_chat()
    before = chat.holder.current
    chat.config_path.write_text(BASE_CONFIG + BOMB)
    caplog.set_level(logging.ERROR)
    assert reload_config(chat.svc, chat.holder, str(chat.config_path)) is False
    assert chat.holder.current is before
    assert "keeping the running config" in caplog.text and "expands to more than" in caplog.text
    said = chat.wait().last()
    assert said.channel == "C0RELEASES" and "kept its running config" in said.text
    assert chat.audit("config.reload_failed")[0].payload["error"].startswith(
        str(chat.config_path))
    assert "help" in chat.command("U0ALICE", "/release help").text.lower()  # still serving
    chat.config_path.write_text(BASE_CONFIG.replace("quorum: 2", "quorum: 1"))
    assert reload_config(chat.svc, chat.holder, str(chat.config_path)) is True
    assert chat.holder.current.approval.quorum == 1


def test_bomb_in_a_synced_repository_is_one_refused_line(make_chat, tmp_path: Path) -> None:
    """A 519-byte bomb in a config-sync source repo yielded a 6.2 MB message and a 24 MB
    database."""
    src = make_remote(tmp_path, "src", {"app.yml": BOMB})
    dst = make_remote(tmp_path, "dst", {"app.yml": "a: 1\n"})
    chat = make_chat(f"""\
channel: C0RELEASES
approvers: [U0ALICE, U0BOB]
syncs:
  - name: cfg
    type: config
    source: {{repo: {src}, ref: main}}
    target: {{repo: {dst}, branch: main}}
""")
    chat.command("U0ALICE", "/sync plan cfg")
    dry = chat.last()
    assert "app.yml:" in dry.rendered and "expands to more than" in dry.rendered, dry.rendered
    assert max(len(m.text) + len(str(m.blocks)) for m in chat.messages) < 20_000
    assert chat.db_path.stat().st_size < 2_000_000
