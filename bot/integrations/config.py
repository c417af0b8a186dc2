"""Config models for the integrations: ``releases.products[].github`` / ``.gitlab`` and
``rollback.paging.pagerduty``. Secrets are never written in the config: ``env:NAME``."""

from __future__ import annotations

import re
import string
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from bot.configbase import Duration, Strict

_ENV = re.compile(r"^env:[A-Za-z_][A-Za-z0-9_]*$")
TEMPLATE_FIELDS = ("version", "product", "major", "minor", "patch")


def _env_ref(value: str) -> str:
    if not _ENV.match(value):
        raise ValueError("must be env:NAME (the secret is read from that environment "
                         "variable; it is never written in the config)")
    return value


def _url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"must be an http(s) URL, not {value!r}")
    return value.rstrip("/")


EnvRef = Annotated[str, AfterValidator(_env_ref)]
Url = Annotated[str, AfterValidator(_url)]
Accept = Literal["success", "neutral", "skipped"]


def _template(value: str) -> str:
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
    except ValueError as exc:
        raise ValueError(f"{value!r}: {exc}") from None
    unknown = sorted(names - set(TEMPLATE_FIELDS))
    if unknown:
        raise ValueError(f"{value!r}: unknown placeholder {{{unknown[0]}}}; known: "
                         + ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS))
    return value


class CodeHostConfig(Strict):
    """What GitHub and GitLab share: where RL-01 finds the release's changes, which checks
    RL-02 requires, and whether Execution publishes a release."""

    token: EnvRef
    milestone: str | None = None
    labels: tuple[str, ...] = ()
    required_checks: tuple[str, ...] | None = None
    """Omitted: every check reported on the commit must pass."""
    accept: tuple[Accept, ...] = ("success",)
    """Conclusions that count as passed (add ``neutral``/``skipped`` to allow them)."""
    publish_release: bool = False
    recheck_every: Duration = timedelta(minutes=5)
    timeout: Duration = timedelta(seconds=15)

    @field_validator("milestone")
    @classmethod
    def _milestone(cls, v: str | None) -> str | None:
        return _template(v) if v is not None else None

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_template(x) for x in v)

    @field_validator("accept")
    @classmethod
    def _success(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if "success" not in v:
            raise ValueError("must include success")
        return v

    @property
    def decides_rl01(self) -> bool:
        """RL-01 needs a milestone or labels to know which changes belong to the release."""
        return bool(self.milestone or self.labels)


class GitHubConfig(CodeHostConfig):
    """``github:`` of a product (GitHub Enterprise: ``api_url: https://HOST/api/v3``)."""

    repo: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    api_url: Url = "https://api.github.com"


class GitLabConfig(CodeHostConfig):
    """``gitlab:`` of a product: ``project`` is ``group/name`` or the numeric ID."""

    project: str = Field(pattern=r"^([A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+|\d+)$")
    api_url: Url = "https://gitlab.com/api/v4"


PdSeverity = Literal["critical", "error", "warning", "info"]
DEFAULT_PD_SEVERITY: dict[str, str] = {"critical": "critical", "high": "error",
                                       "medium": "warning", "low": "info"}


class PagerDutyConfig(Strict):
    """``rollback.paging.pagerduty``: Events API v2."""

    routing_key: EnvRef
    api_url: Url = "https://events.pagerduty.com"
    severity: dict[Literal["critical", "high", "medium", "low"], PdSeverity] = {}
    """Rollback severity -> PagerDuty severity (overrides the default mapping)."""
    retries: int = Field(5, ge=0, le=20)
    retry_after: Duration = timedelta(minutes=1)
    """First wait before re-sending a page that failed; doubled each time."""
    timeout: Duration = timedelta(seconds=10)

    def pd_severity(self, severity: str) -> str:
        """The PagerDuty severity for a rollback severity."""
        return self.severity.get(severity, DEFAULT_PD_SEVERITY.get(severity, "error"))


class PagingConfig(Strict):
    """``rollback.paging``: where on-call is paged besides the Slack mention."""

    pagerduty: PagerDutyConfig | None = None


def token_refs(raw: object) -> list[str]:
    """``env:NAME`` secret references in raw config data (tokens, routing keys), so their
    values are scrubbed like the config's ``secrets``."""
    refs: list[str] = []
    if not isinstance(raw, dict):
        return refs
    releases = raw.get("releases")
    products = releases.get("products") if isinstance(releases, dict) else None
    for p in products if isinstance(products, list) else []:
        for host in ("github", "gitlab"):
            h = p.get(host) if isinstance(p, dict) else None
            if isinstance(h, dict) and isinstance(h.get("token"), str):
                refs.append(h["token"])
    rb = raw.get("rollback")
    paging = rb.get("paging") if isinstance(rb, dict) else None
    pd = paging.get("pagerduty") if isinstance(paging, dict) else None
    if isinstance(pd, dict) and isinstance(pd.get("routing_key"), str):
        refs.append(pd["routing_key"])
    return [r for r in refs if _ENV.match(r)]
