"""Gated actions: what may run now, asked one way for sync plans and rollbacks.

An action is gated by *named requirements* (approval policy, product not frozen, plan fresh,
lease free, checks pass, window reached). Each requirement returns a :class:`Verdict` with
the user-facing sentence; :class:`Gate` evaluates them in order, either all of them (for
``/sync status`` and ``/rollback status``) or until the first that says no (before executing;
:meth:`Gate.enforce` raises :class:`bot.errors.Refused` naming the gate). The same verdicts
explain a gate and refuse on it, so the two never disagree.

:mod:`bot.actions.record` keeps every action's status (``svc.actions``) and its parent: a
Config rollback is the parent of the sync it runs, which is how the sync is let into the
product the rollback froze and how the rollback hears that its sync finished.
"""

from bot.actions.gates import Gate, Requirement, Verdict

__all__ = ["Gate", "Requirement", "Verdict"]
