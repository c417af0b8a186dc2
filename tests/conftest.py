"""Shared fixtures."""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import pgserver
from tests.harness import BASE_CONFIG, Chat
from tests.integration_fixtures import github, gitlab, pagerduty  # noqa: F401 - fixtures


def _temporary_files_in_memory() -> None:
    """The tests' temporary files go to ``/dev/shm`` (memory) unless ``TMPDIR`` is set: a
    run creates and deletes some 35,000 files (repositories, databases), and on a disk
    file system (ext4 here) that was a fifth of the suite's CPU time. Only when it is
    writable with 2 GiB free; a run needs a few hundred MB at most."""
    if os.environ.get("TMPDIR"):
        return
    try:
        st = os.statvfs("/dev/shm")
    except OSError:
        return
    if os.access("/dev/shm", os.W_OK) and st.f_bavail * st.f_frsize >= 2 << 30:
        os.environ["TMPDIR"] = "/dev/shm"   # subprocesses too
        tempfile.tempdir = None             # recomputed from TMPDIR


_temporary_files_in_memory()
os.environ.setdefault("GIT_AUTHOR_NAME", "relbot tests")
os.environ.setdefault("GIT_AUTHOR_EMAIL", "tests@relbot.invalid")
os.environ.setdefault("GIT_COMMITTER_NAME", "relbot tests")
os.environ.setdefault("GIT_COMMITTER_EMAIL", "tests@relbot.invalid")


class NetworkBlocked(OSError):
    """A test tried to reach beyond loopback: every fake service runs on 127.0.0.1."""


def _loopback(host: object) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _guard(real):  # type: ignore[no-untyped-def]
    def connect(self: socket.socket, address: object) -> object:
        if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) \
                and not _loopback(address[0]):
            raise NetworkBlocked(f"tests may not connect to {address[0]}:{address[1]} "
                                 "(only loopback)")
        return real(self, address)
    return connect


def _getaddrinfo(real):  # type: ignore[no-untyped-def]
    def getaddrinfo(host: object, *args: object, **kw: object) -> object:
        if not _loopback(host):
            raise NetworkBlocked(f"tests may not resolve {host!r} (only loopback)")
        return real(host, *args, **kw)
    return getaddrinfo


# Real network access is refused for the whole test run (GitHub, GitLab, PagerDuty and Slack
# are loopback fakes); tests/test_integrations_network.py shows the guard holds.
socket.socket.connect = _guard(socket.socket.connect)  # type: ignore[method-assign]
socket.socket.connect_ex = _guard(socket.socket.connect_ex)  # type: ignore[method-assign]
socket.getaddrinfo = _getaddrinfo(socket.getaddrinfo)  # type: ignore[assignment]


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` (pyproject's addopts): three workers per two cores, as about a third of a
    worker's time is spent waiting (subprocesses, PostgreSQL, timeouts the tests exercise),
    which another worker's tests fill. A run of one test file (or of tests in it) stays in
    this process: starting workers costs a few seconds more than such a run saves.
    ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still decides when set (xdist's own rule)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    files = {str(a).split("::")[0] for a in config.args}
    if config.args_source == pytest.Config.ArgsSource.ARGS and len(files) == 1 \
            and Path(files.pop()).is_file():
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)
    return cores + cores // 2


@pytest.fixture
def make_chat(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator:
    """``make_chat(config_yaml, **kw) -> Chat``; every chat is closed after the test.

    With ``RELBOT_TEST_BACKEND=postgresql`` every chat runs on a fresh PostgreSQL schema
    instead of a SQLite file (the whole chat-driven suite on the other backend)."""
    if os.environ.get("RELBOT_TEST_BACKEND") == "postgresql":
        yield request.getfixturevalue("pg_make_chat")
        return
    chats: list[Chat] = []

    def make(config: str = BASE_CONFIG, **kw: object) -> Chat:
        sub = tmp_path / f"chat{len(chats)}"
        sub.mkdir()
        chat = Chat(sub, config, **kw)  # type: ignore[arg-type]
        chats.append(chat)
        return chat

    yield make
    for c in chats:
        c.close()


@pytest.fixture
def chat(make_chat: object) -> Chat:
    return make_chat()  # type: ignore[operator]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pgserver.Schemas | str]:
    """The tests' PostgreSQL server (see tests/pgserver.py), or the reason there is none."""
    url, why, throwaway = pgserver.server_url()
    if url is None:
        yield why
        return
    try:
        yield pgserver.Schemas(url)
    finally:
        if throwaway is not None:
            throwaway.stop()


@pytest.fixture
def pg_url(pg_server: pgserver.Schemas | str) -> Iterator[str]:
    """A URL to a fresh, empty schema on the tests' PostgreSQL server (dropped after)."""
    if isinstance(pg_server, str):
        pgserver.unavailable(pg_server)
        raise AssertionError("unreachable")
    name, url = pg_server.create()
    try:
        yield url
    finally:
        pg_server.drop(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each backend in turn: a SQLite file URL, then a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'relbot.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def pg_make_chat(pg_server: pgserver.Schemas | str, tmp_path: Path) -> Iterator:
    """Like ``make_chat``, but each chat's database is a fresh PostgreSQL schema."""
    if isinstance(pg_server, str):
        pgserver.unavailable(pg_server)
    assert isinstance(pg_server, pgserver.Schemas)
    chats: list[Chat] = []
    schemas: list[str] = []

    def make(config: str = BASE_CONFIG, **kw: object) -> Chat:
        sub = tmp_path / f"pgchat{len(chats)}"
        sub.mkdir()
        name, url = pg_server.create()
        schemas.append(name)
        chat = Chat(sub, config, database=url, **kw)  # type: ignore[arg-type]
        chats.append(chat)
        return chat

    yield make
    for c in chats:
        c.close()
    for name in schemas:
        pg_server.drop(name)
