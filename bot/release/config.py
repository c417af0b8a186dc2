"""Config section ``releases:`` -- the products whose releases the bot runs."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from bot.configbase import Strict
from bot.integrations.config import GitHubConfig, GitLabConfig

CHECK_IDS = tuple(f"RL-0{i}" for i in range(1, 9))


class Product(Strict):
    """One product: its git repo (tags ``vX.Y.Z`` are releases) and where checks look."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    repo: str
    version_file: str = "pyproject.toml"
    changelog: str = "CHANGELOG.md"
    checks: dict[str, tuple[str, ...]] = {}
    default: bool = False
    tag: bool = False
    notes_dir: str = "release-notes"
    check_timeout: float = Field(default=300, gt=0)
    ref: str = "HEAD"
    github: GitHubConfig | None = None
    """RL-01/RL-02 from GitHub (pull requests, checks) and a GitHub release at Execution."""
    gitlab: GitLabConfig | None = None
    """The same from GitLab (merge requests, pipelines, a GitLab release)."""
    highlight_scopes: tuple[str, ...] = ()
    highlight_labels: tuple[str, ...] = ()
    prepare: bool = False

    @field_validator("checks")
    @classmethod
    def _check_ids(cls, v: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for key, argv in v.items():
            if key not in CHECK_IDS:
                raise ValueError(f"checks.{key}: unknown check; expected one of RL-01..RL-08")
            if not argv:
                raise ValueError(f"checks.{key}: command must be a non-empty argv list")
        return v

    @model_validator(mode="after")
    def _one_code_host(self) -> Product:
        if self.github is not None and self.gitlab is not None:
            raise ValueError("github and gitlab are both set; a product has one code host")
        return self


class ReleasesConfig(Strict):
    """``releases.products`` plus an optional ``default_product``."""

    products: tuple[Product, ...] = ()
    default_product: str | None = None

    @model_validator(mode="after")
    def _one_default(self) -> ReleasesConfig:
        names = [p.name for p in self.products]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"products: duplicate name {sorted(dup)[0]!r}")
        defaults = [p.name for p in self.products if p.default]
        if len(defaults) > 1:
            raise ValueError(f"products: more than one default ({', '.join(defaults)})")
        if self.default_product and self.default_product not in names:
            raise ValueError(f"default_product: {self.default_product!r} is not a product")
        return self

    def product(self, name: str | None) -> Product | None:
        """The named product, or the default one when ``name`` is None."""
        if name is None:
            name = self.default_product or next((p.name for p in self.products if p.default),
                                                None)
            if name is None and len(self.products) == 1:
                name = self.products[0].name
        return next((p for p in self.products if p.name == name), None)


