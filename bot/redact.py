"""Keep secrets out of logs, messages and the audit log."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

_TOKEN_RE = re.compile(r"\b(xox[abposr]|xapp)-[A-Za-z0-9-]{6,}")
_SECRET_KEYS = re.compile(r"(token|secret|password|passwd|api[_-]?key|authorization)", re.I)
_ENV_SECRETS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")
MASK = "[REDACTED]"


def secret_values(extra: Iterable[str] = ()) -> list[str]:
    """The secret strings currently known: Slack env secrets plus ``extra``.

    An ``extra`` entry ``env:NAME`` stands for the value of environment variable NAME.
    """
    vals = [os.environ.get(k, "") for k in _ENV_SECRETS]
    vals += [os.environ.get(e[4:], "") if e.startswith("env:") else e for e in extra]
    return sorted({v for v in vals if v and len(v) >= 4}, key=len, reverse=True)


def scrub_text(text: str, extra: Iterable[str] = ()) -> str:
    """Replace known secret values and Slack-token-shaped strings with a mask."""
    for value in secret_values(extra):
        text = text.replace(value, MASK)
    return _TOKEN_RE.sub(MASK, text)


def scrub(obj: Any, extra: Iterable[str] = ()) -> Any:
    """Scrub a JSON-like structure: secret-named keys are masked, strings are scrubbed."""
    extra = list(extra)
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if isinstance(k, str) and _SECRET_KEYS.search(k) and isinstance(v, str) and v:
                out[k] = MASK
            else:
                out[k] = scrub(v, extra)
        return out
    if isinstance(obj, list | tuple):
        return [scrub(v, extra) for v in obj]
    if isinstance(obj, str):
        return scrub_text(obj, extra)
    return obj
