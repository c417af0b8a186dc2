"""Test git repositories built once per test process, then copied for each test.

Many tests start from the same few repositories (a tagged product, a docs source and
target, a release history). :func:`built` makes them with real git the first time a set-up
is asked for, in a directory of this process's own, and copies that directory's entries
for every later test: the same commits, tags and working trees, without a dozen git
processes per test. Absolute paths git wrote into a repository's ``config`` (a bare
clone's ``origin``) are rewritten to the copy's place; git's example hooks
(``hooks/*.sample``, never run) are not copied.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable, Hashable
from pathlib import Path

_made: dict[Hashable, Path] = {}
_SAMPLES = shutil.ignore_patterns("*.sample")   # git init's inert example hooks
_root: list[Path] = []


def _home() -> Path:
    if not _root:
        _root.append(Path(tempfile.mkdtemp(prefix="relbot-test-repos-")))
        atexit.register(shutil.rmtree, _root[0], True)
    return _root[0]


def _rewrite_paths(entry: Path, old: str, new: str) -> None:
    for config in (entry / "config", entry / ".git" / "config"):
        if config.is_file():
            text = config.read_text()
            if old in text:
                config.write_text(text.replace(old, new))


def built(key: Hashable, where: Path, build: Callable[[Path], object]) -> None:
    """Make in ``where`` the entries ``build(directory)`` makes in an empty directory: built
    for the first ``key`` of this process, copied from that build afterwards. An entry that
    already exists in ``where`` is an error, as ``mkdir`` of it would be."""
    template = _made.get(key)
    if template is None:
        template = _home() / str(len(_made))
        template.mkdir()
        build(template)
        _made[key] = template
    for entry in sorted(template.iterdir()):
        dest = where / entry.name
        shutil.copytree(entry, dest, symlinks=True, ignore=_SAMPLES)
        _rewrite_paths(dest, str(template), str(where))
