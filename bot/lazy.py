"""Imports deferred to first use, so ``relbot run`` starts without the feature modules.

The handlers name the feature code they call (``flow.request_sync(...)``), but a feature is
imported only when one of its commands, actions, hooks or jobs first runs:
:func:`module` gives a stand-in that imports the module on first attribute access, and
:func:`later` a function that imports and calls ``module.name`` when it is called (for
approval hooks and scheduler jobs registered at start-up).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import Any


class LazyModule:
    """Stands for module ``name``; the first attribute read imports it (thread-safe: the
    import system's own module locks)."""

    __slots__ = ("_name", "_module")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: Any = None

    def __getattr__(self, attr: str) -> Any:
        mod = self._module
        if mod is None:
            mod = self._module = importlib.import_module(self._name)
        return getattr(mod, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def module(name: str) -> Any:
    """A stand-in for module ``name``, imported when first used."""
    return LazyModule(name)


@cache
def later(module_name: str, name: str) -> Callable[..., Any]:
    """``module_name.name(*args, **kwargs)``, imported at the first call. One function per
    pair, so registering it twice (hooks compare functions) registers it once."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module_name), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__module__ = module_name
    return call
