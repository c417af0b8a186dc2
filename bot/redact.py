"""Keep secrets out of logs, messages, the audit log and evidence.

A :class:`Redactor` is compiled once per config (``config.secrets.redactor``): one regular
expression for the configured secret values (``env:NAME`` resolved once), Slack and GitHub
token shapes, the config's ``secrets.patterns``, and the userinfo of any URL
(``https://***@host/org/repo``). Values under secret-looking keys (password, token, key,
...) at any depth of a structure are masked whatever they look like.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

_MEMO_SIZE, _MEMO_LEN = 4096, 16384  # remembered results per redactor; longest remembered
MASK = "[REDACTED]"
URL_MASK = "***@"
HIDDEN = "(value hidden)"
_ENV_SECRETS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "RELBOT_AUDIT_KEY")
_BUILTIN_SHAPES = (
    r"\b(?:xox[abposr]|xapp)-[A-Za-z0-9-]{6,}",            # Slack tokens
    r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})",  # GitHub tokens
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
)
# ``password=VALUE`` / ``"api_key": "VALUE"`` / ``DB_TOKEN: VALUE`` in free text (logs, command
# output, git stderr): the value after a secret-looking name; "(value hidden)" stays as it is
_NAMED_VALUE = (r"(?i)(?<![\w.-])(?P<name>[\w.-]*(?:pass(?:word|wd|phrase)|secret|token"
                r"|credential|api[_-]?key|private[_-]?key)[\w.-]*)(?P<sep>\"?\s*[:=]\s*\"?)"
                r"(?!changed \(value hidden\))(?P<value>[^\s\"',;()\[\]{}]+)")
_SHAPE_HINTS = ("xox", "xapp-", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
                "PRIVATE KEY")
_NAME_HINTS = ("pass", "secret", "token", "credential", "key")
# userinfo of a URL: everything between "scheme://" and "@" before the host
_URL_USERINFO = r"(?<=://)[^\s/@?#'\"<>]+@"
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SECRET_KEY = re.compile(
    r"pass(?:word|wd|phrase)|secret|token|credential|private"
    r"|(?:^|[_\-. ])auth(?:$|[_\-. ]|entication|ori[sz]ation)"
    r"|(?:^|[_\-. ])key$|(?:api|access|signing|encryption|master|ssh|deploy)[_\-]?key")


def is_secret_key(key: object) -> bool:
    """Does a mapping key look like it holds a secret (``db.password``, ``apiKey``, ...)?"""
    return isinstance(key, str) and _secret_name(key)


@lru_cache(maxsize=4096)
def _secret_name(key: str) -> bool:  # structures repeat their keys ("type", "text", ...)
    return bool(_SECRET_KEY.search(_CAMEL.sub("_", key).lower()))


def mask_url_userinfo(text: str) -> str:
    """``https://user:pw@host/x`` -> ``https://***@host/x`` (only the userinfo)."""
    return re.sub(_URL_USERINFO, URL_MASK, text)


class Redactor:
    """A compiled matcher for secret values, token shapes, patterns and URL userinfo."""

    def __init__(self, values: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        vals = [os.environ.get(k, "") for k in _ENV_SECRETS]
        vals += [os.environ.get(v[4:], "") if v.startswith("env:") else v for v in values]
        self._literals = sorted({v for v in vals if v and len(v) >= 4}, key=len, reverse=True)
        self._shapes = re.compile("|".join(f"(?:{a})" for a in _BUILTIN_SHAPES))
        pats = list(patterns)
        self._patterns = re.compile("|".join(f"(?:{p})" for p in pats)) if pats else None
        self._url = re.compile(_URL_USERINFO)
        self._named = re.compile(_NAMED_VALUE)
        self._memo: dict[str, str] = {}

    def text(self, text: str) -> str:
        """``text`` with every secret masked. A redactor never changes, so the result for a
        string is remembered (messages repeat theirs: a block's text is also the message's
        text, and every update of a message shows mostly what the last one did)."""
        done = self._memo.get(text)
        if done is None:
            done = self._text(text)
            if len(text) <= _MEMO_LEN:
                if len(self._memo) >= _MEMO_SIZE:
                    self._memo.clear()
                self._memo[text] = done
        return done

    def _text(self, text: str) -> str:
        """Substring tests in C decide which of the regular expressions can match at all
        (most strings need none of them)."""
        for v in self._literals:
            if v in text:
                text = text.replace(v, MASK)
        if any(h in text for h in _SHAPE_HINTS):
            text = self._shapes.sub(MASK, text)
        if self._patterns is not None:
            text = self._patterns.sub(MASK, text)
        if "://" in text and "@" in text:
            text = self._url.sub(URL_MASK, text)
        low = text.lower()
        if any(h in low for h in _NAME_HINTS):
            text = self._named.sub(lambda m: m["name"] + m["sep"] + MASK, text)
        return text

    def obj(self, obj: Any, hidden: bool = False) -> Any:
        """A JSON-like structure scrubbed: values under secret-looking keys are masked (at
        any depth), every string is scrubbed."""
        if isinstance(obj, dict):
            return {k: self.obj(v, hidden or is_secret_key(k)) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.obj(v, hidden) for v in obj]
        if isinstance(obj, str):
            return MASK if hidden and obj else self.text(obj)
        if hidden and isinstance(obj, int | float) and not isinstance(obj, bool):
            return MASK
        return obj


@lru_cache(maxsize=32)
def _compiled(values: tuple[str, ...]) -> Redactor:
    return Redactor(values)


def redactor_for(extra: Any = ()) -> Redactor:
    """The redactor for ``extra``: a Redactor, a config's ``secrets`` section (its own,
    built once), or plain values (compiled once per distinct tuple)."""
    if isinstance(extra, Redactor):
        return extra
    built = getattr(extra, "redactor", None)
    if isinstance(built, Redactor):
        return built
    return _compiled(tuple(extra or ()))


def scrub_text(text: str, extra: Any = ()) -> str:
    """Replace secrets in ``text`` with a mask (see :func:`redactor_for` for ``extra``)."""
    return redactor_for(extra).text(text)


def scrub(obj: Any, extra: Any = ()) -> Any:
    """Scrub a JSON-like structure (see :meth:`Redactor.obj`)."""
    return redactor_for(extra).obj(obj)
