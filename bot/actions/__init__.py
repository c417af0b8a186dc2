"""Gated actions: what may run now, asked one way for sync plans and rollbacks.

An action is gated by *named requirements* (approval policy, product not frozen, plan fresh,
lease free, checks pass, window reached). Each requirement returns a :class:`Verdict` with
the user-facing sentence; :class:`Gate` evaluates them in order, either all of them (for
``/sync status`` and ``/rollback status``) or until the first that says no (before executing;
:meth:`Gate.enforce` raises :class:`bot.errors.Refused` naming the gate). The same verdicts
explain a gate and refuse on it, so the two never disagree.

:mod:`bot.actions.hooks` holds the typed seams features use to follow each other (a sync
that finished, a sync let into a frozen product) instead of untyped registries.
"""

from bot.actions.gates import Gate, Requirement, Verdict

__all__ = ["Gate", "Requirement", "Verdict"]
