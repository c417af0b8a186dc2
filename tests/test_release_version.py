"""Versions, bump proposals, precedence and pre-release progression on real git repos."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.release import version as vs
from bot.release.config import ReleasesConfig
from tests.test_release_fixtures import make_repo


def test_proposals_from_conventional_commits(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, msgs=("fix: crash on empty input", "docs: readme"))
    bump, why = vs.propose_bump(vs.commits(repo, vs.last_tag(repo)))
    assert bump == "patch" and len(why) == 2
    from tests.test_release_fixtures import commit
    commit(repo, "feat(api): add /v2/users")
    bump, why = vs.propose_bump(vs.commits(repo, vs.last_tag(repo)))
    assert bump == "minor" and why == [why[0]] and "feat(api): add /v2/users" in why[0]
    commit(repo, "refactor!: drop python 3.8")
    assert vs.propose_bump(vs.commits(repo, "v1.2.0"))[0] == "major"


def test_breaking_change_footer_is_major(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    from tests.test_release_fixtures import commit
    commit(repo, "fix: x\n\nBREAKING CHANGE: config key renamed")
    bump, why = vs.propose_bump(vs.commits(repo, "v1.2.0"))
    assert bump == "major" and "fix: x" in why[0]


def test_nothing_releasable(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, msgs=("chore: tidy",))
    assert vs.propose_bump(vs.commits(repo, "v1.2.0")) == (None, [])


def test_precedence_error_names_the_last_release(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, tag="v1.3.0")
    last = vs.last_release(repo)
    with pytest.raises(vs.VersionError) as exc:
        vs.check_greater(vs.parse("1.2.0"), last, "api")
    assert str(exc.value) == "version 1.2.0 must be greater than the last release 1.3.0 of api"
    with pytest.raises(vs.VersionError):
        vs.check_greater(vs.parse("1.3.0"), last, "api")
    vs.check_greater(vs.parse("1.3.1-rc.1"), last, "api")


def test_prerelease_progression() -> None:
    v = vs.next_version(vs.parse("1.3.0"), "alpha")
    assert str(v) == "1.4.0-alpha.1"
    v = vs.next_version(v, "alpha")
    assert str(v) == "1.4.0-alpha.2"
    v = vs.next_version(v, "beta")
    assert str(v) == "1.4.0-beta.1"
    v = vs.next_version(v, "rc")
    assert str(v) == "1.4.0-rc.1"
    assert str(vs.next_version(v, "rc")) == "1.4.0-rc.2"
    assert str(vs.next_version(v, "final")) == "1.4.0"
    with pytest.raises(vs.VersionError):
        vs.next_version(v, "alpha")
    assert vs.parse("1.4.0-rc.2") < vs.parse("1.4.0")


def test_bumps_and_cadence() -> None:
    last = vs.parse("1.2.3")
    assert str(vs.next_version(last, "patch")) == "1.2.4"
    assert str(vs.next_version(last, "minor")) == "1.3.0"
    assert str(vs.next_version(last, "major")) == "2.0.0"
    assert vs.CADENCE[vs.cadence(vs.parse("1.3.0"), last)] == "bi-weekly"
    assert vs.CADENCE[vs.cadence(vs.parse("2.0.0"), last)] == "quarterly"
    assert vs.CADENCE[vs.cadence(vs.parse("1.2.4"), last)] == "as needed"


def test_config_validation_names_the_key() -> None:
    with pytest.raises(ValueError, match="checks.RL-09"):
        ReleasesConfig.model_validate({"products": [{"name": "api", "repo": ".",
                                                     "checks": {"RL-09": ["true"]}}]})
    with pytest.raises(ValueError, match="more than one default"):
        ReleasesConfig.model_validate({"products": [
            {"name": "a", "repo": ".", "default": True}, {"name": "b", "repo": ".",
                                                          "default": True}]})
