"""Two syncs with the same name are a config error naming the key."""

from __future__ import annotations

import pytest

from bot.config import parse_config
from bot.errors import ConfigError


def test_duplicate_sync_names_are_refused() -> None:
    text = (
        "channel: C0X\n"
        "syncs:\n"
        "  - {name: a, type: config, source: {repo: /tmp}, target: {repo: /tmp}}\n"
        "  - {name: a, type: config, source: {repo: /tmp}, target: {repo: /tmp}}\n"
    )
    with pytest.raises(ConfigError) as err:
        parse_config(text, "relbot.yml")
    assert "relbot.yml:2: syncs: duplicate sync name 'a'" in str(err.value)
