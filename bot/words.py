"""How command text splits into words, shared by the Slack dispatcher, the console and the
rollback request parser (pure: no Slack imports)."""

from __future__ import annotations

import re
import shlex

OPTION = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)=(.*)$", re.S)
"""A ``key=value`` word."""
_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")
_KEEP = "\x00"  # stands in for an in-word apostrophe while shlex splits
_UNICODE_SPACE = re.compile(r"[^\S \t\n\r]")  # NBSP, NEL, \f, ...: shlex knows only these 4


def split_words(text: str) -> list[str]:
    """Shell-like words: quotes group words, but an apostrophe inside a word ("won't",
    "customer's") is just a letter, and an unbalanced quote falls back to plain words."""
    text = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'")
    text = _UNICODE_SPACE.sub(" ", text)  # a pasted non-breaking space separates words too
    text = _APOSTROPHE.sub(_KEEP, text)
    try:
        words = _shell_split(text)
    except ValueError:  # nothing is dropped: the quote stays a character
        words = text.split()
    return [w.replace(_KEEP, "'") for w in words]


def _shell_split(text: str) -> list[str]:
    """``shlex.split`` without backslash escapes: people type ``C:\\build`` or ``a\\b`` in
    chat, and a backslash is a letter there, never a shell escape that eats a character."""
    lex = shlex.shlex(text, posix=True)
    lex.whitespace_split = True
    lex.commenters = ""
    lex.escape = ""
    return list(lex)

