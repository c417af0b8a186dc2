"""Shared fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import BASE_CONFIG, Chat

os.environ.setdefault("GIT_AUTHOR_NAME", "relbot tests")
os.environ.setdefault("GIT_AUTHOR_EMAIL", "tests@relbot.invalid")
os.environ.setdefault("GIT_COMMITTER_NAME", "relbot tests")
os.environ.setdefault("GIT_COMMITTER_EMAIL", "tests@relbot.invalid")


@pytest.fixture
def make_chat(tmp_path: Path) -> Iterator:
    """``make_chat(config_yaml, **kw) -> Chat``; every chat is closed after the test."""
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
