"""The RL-01 / RL-02 provider for a product with ``github:`` or ``gitlab:`` (the seam
bot.release.checks plugs in), and publishing a release at Execution."""

from __future__ import annotations

import logging
from typing import Any

from bot.integrations.github import GitHub
from bot.integrations.gitlab import GitLab
from bot.integrations.http import IntegrationError, Timing
from bot.integrations.model import CodeHost, Decision, decide_gates, decide_merged

log = logging.getLogger(__name__)
PROVIDED = ("RL-01", "RL-02")


def config_of(product: Any) -> Any:
    """The product's code host section (``github`` or ``gitlab``), or None."""
    return getattr(product, "github", None) or getattr(product, "gitlab", None)


def decides(product: Any, cid: str) -> bool:
    """Whether the code host decides ``cid`` for ``product``."""
    cfg = config_of(product)
    if cfg is None or cid not in PROVIDED:
        return False
    return cid == "RL-02" or cfg.decides_rl01


def connect(product: Any, timing: Timing) -> CodeHost:
    """A client for the product's code host (raises IntegrationError: token not set)."""
    if getattr(product, "github", None) is not None:
        return GitHub(product.name, product.github, timing)
    return GitLab(product.name, product.gitlab, timing)


class CodeHostProvider:
    """Decides RL-01 and RL-02 of one product on an explicit commit."""

    def __init__(self, product: Any, timing: Timing) -> None:
        self.product, self.timing = product, timing
        self.cfg = config_of(product)

    def decide(self, cid: str, version: str, commit: str) -> Decision:
        """RL-01 from the release's pull requests, RL-02 from the checks on ``commit``.
        An error the user must fix fails the check naming the fix; a transient one
        (rate limit, outage) leaves it waiting until ``recheck_at``."""
        try:
            host = connect(self.product, self.timing)
        except IntegrationError as exc:
            return Decision("fail", str(exc), {"error": str(exc)})
        try:
            if cid == "RL-01":
                changes, where = host.changes(version)
                return decide_merged(host.label, changes, where)
            return decide_gates(host.label, host.checks(commit), commit,
                                self.cfg.required_checks, self.cfg.accept)
        except IntegrationError as exc:
            if exc.transient:
                when = exc.retry_at or self.timing.now() + self.cfg.recheck_every
                return Decision("waiting", f"{exc}; asked again later", {"error": str(exc)},
                                recheck_at=when)
            return Decision("fail", str(exc), {"error": str(exc)})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("%s: unexpected answer deciding %s", host.label, cid, exc_info=True)
            text = f"{host.label}: unexpected answer ({type(exc).__name__}: {exc}); is " \
                   "api_url the REST API root?"
            return Decision("fail", text, {"error": text})
        finally:
            host.close()


def publish(product: Any, timing: Timing, tag: str, commit: str, title: str, notes: str,
            prerelease: bool) -> str:
    """Create the code host's release for ``tag``; returns its URL (IntegrationError)."""
    host = connect(product, timing)
    try:
        return host.publish(tag, commit, title, notes, prerelease)
    finally:
        host.close()
