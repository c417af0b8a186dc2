"""check-config validates the github:, gitlab: and rollback.paging keys: unknown keys, tokens
that are not env:NAME, both hosts on one product, each as file:line: key: message."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import parse_config
from bot.errors import ConfigError
from tests.cli import relbot

REPO_ROOT = Path(__file__).resolve().parents[1]
HEAD = """\
channel: C0RELEASES
permissions:
  rollback: [U0ALICE]
releases:
  products:
    - name: api
      repo: /srv/api
"""


def _issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "relbot.yml")
    return [str(i) for i in exc.value.issues]


def test_a_valid_github_gitlab_and_pagerduty_config_loads() -> None:
    cfg = parse_config(HEAD + """\
      github:
        repo: acme/api
        token: env:GITHUB_TOKEN
        milestone: "{version}"
        required_checks: [build, test]
        accept: [success, neutral]
        publish_release: true
    - name: web
      repo: /srv/web
      gitlab: {project: acme/web, token: env:GITLAB_TOKEN, labels: ["release-{major}.{minor}"]}
rollback:
  products:
    api: {command: [./deploy.sh]}
  paging:
    pagerduty: {routing_key: env:PD_ROUTING_KEY, severity: {high: critical}}
""")
    api, web = cfg.releases.products
    assert api.github.api_url == "https://api.github.com" and api.github.decides_rl01
    assert web.gitlab.api_url == "https://gitlab.com/api/v4"
    assert cfg.rollback.paging.pagerduty.pd_severity("high") == "critical"
    assert cfg.rollback.paging.pagerduty.pd_severity("low") == "info"
    # the secrets they name are scrubbed like secrets:
    assert {"env:GITHUB_TOKEN", "env:GITLAB_TOKEN", "env:PD_ROUTING_KEY"} <= \
        set(cfg.secrets.values)


def test_errors_name_file_line_and_key() -> None:
    issues = _issues(HEAD + """\
      github:
        repo: acme/api
        token: ghp_pasted_in_the_file
        milestone: "{verison}"
        milstone: x
        accept: [neutral]
    - name: web
      repo: /srv/web
      github: {repo: "not a repo", token: env:T}
      gitlab: {project: acme/web, token: env:T, api_url: "gitlab.example"}
rollback:
  products:
    api: {command: [./deploy.sh]}
  paging:
    pagerduty: {routing_key: R0UTINGKEY, api_url: https://events.pagerduty.com, sevrity: {}}
""")
    text = "\n".join(issues)
    assert "relbot.yml:10: releases.products[0].github.token: must be env:NAME (the secret " \
           "is read from that environment variable; it is never written in the config)" in text
    assert "relbot.yml:11: releases.products[0].github.milestone: '{verison}': unknown " \
           "placeholder {verison}" in text
    assert "relbot.yml:12: releases.products[0].github.milstone: unknown key 'milstone' " \
           "(did you mean 'milestone'?)" in text
    assert "relbot.yml:13: releases.products[0].github.accept: must include success" in text
    assert "relbot.yml:16: releases.products[1].github.repo: String should match pattern" in text
    assert "relbot.yml:17: releases.products[1].gitlab.api_url: must be an http(s) URL, " \
           "not 'gitlab.example'" in text
    assert "rollback.paging.pagerduty.routing_key: must be env:NAME" in text
    assert "rollback.paging.pagerduty.sevrity: unknown key 'sevrity' (did you mean " \
           "'severity'?)" in text
    assert "ghp_pasted_in_the_file" not in text


def test_one_code_host_per_product() -> None:
    issues = _issues(HEAD + """\
      github: {repo: acme/api, token: env:T}
      gitlab: {project: acme/api, token: env:T}
""")
    assert issues == ["relbot.yml:6: releases.products[0]: github and gitlab are both set; a "
                      "product has one code host"]


def test_check_config_cli_exit_code_and_lines(tmp_path: Path) -> None:
    cfg = tmp_path / "relbot.yml"
    cfg.write_text(HEAD + "      github: {repo: acme/api, token: env:GITHUB_TOKEN, "
                          "labels: [x], publish: true}\n")
    p = relbot("check-config", str(cfg), cwd=tmp_path)
    assert p.returncode == 1
    assert f"{cfg}:8: releases.products[0].github.publish: unknown key 'publish' (did you " \
           "mean 'publish_release'?)" in p.stdout + p.stderr
