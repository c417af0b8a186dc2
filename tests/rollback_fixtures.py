"""Shared set-up for rollback tests: a product repo with release tags, real shell scripts
for the rollback command and the health check, and the config that wires them."""

from __future__ import annotations

import os
from pathlib import Path

from bot.git import git
from tests.harness import BASE_CONFIG
from tests.repos import built

DEPLOY = """\
#!/bin/sh
echo "deploying $1 to $2 components=$3"
echo "using token hunter2-secret-value"
echo "auth ${DEPLOY_TOKEN:-none}"
if [ -f fail ]; then echo "registry unreachable"; exit 3; fi
if [ -f hang ]; then echo $$ > started; sleep 30; fi
if [ -f slow ]; then sleep 1; fi
echo "$1 $2 $3" >> deployed.log
echo "done"
"""

HEALTH = """\
#!/bin/sh
n=$(cat health.count 2>/dev/null || echo 0); n=$((n+1)); echo $n > health.count
need=$(cat health.need 2>/dev/null || echo 1)
if [ "$n" -ge "$need" ]; then echo "$1 healthy"; exit 0; fi
echo "$1 unhealthy (attempt $n)"; exit 1
"""


def rollback_config(extra: str = "", product_extra: str = "", rollback_extra: str = "") -> str:
    """Config with product ``api`` (tags v1.2.0..v1.4.0 in ./repo) and its scripts."""
    return BASE_CONFIG + f"""\
permissions:
  release: [U0ALICE, U0BOB, "@release-managers"]
  rollback: [U0ALICE, U0BOB, "@oncall"]
secrets: [hunter2-secret-value, "env:DEPLOY_TOKEN"]
releases:
  products:
    - name: api
      repo: repo
      default: true
rollback:
  oncall: ["@oncall"]
  products:
    api:
      command: ["./deploy.sh", "{{product}}", "{{version}}", "{{components}}"]
      health_check: ["./health.sh", "{{product}}"]
      timeout: 5
      health_retries: 3
      health_backoff: 2s
      components: [api, worker]
{product_extra}{rollback_extra}{extra}"""


def prepare(chat_dir: Path, tags: tuple[str, ...] = ("v1.2.0", "v1.3.0", "v1.4.0")) -> Path:
    """Write the scripts and a repo with ``tags`` beside the chat's relbot.yml."""
    for name, text in (("deploy.sh", DEPLOY), ("health.sh", HEALTH)):
        p = chat_dir / name
        p.write_text(text)
        os.chmod(p, 0o755)
    def build(where: Path) -> None:
        repo = where / "repo"
        repo.mkdir()
        git("init", "-q", "-b", "main", cwd=repo)
        for t in tags:
            (repo / "VERSION").write_text(t)
            git("add", "VERSION", cwd=repo)
            git("commit", "-q", "-m", f"chore: {t}", cwd=repo)
            git("tag", "-a", t, "-m", t, cwd=repo)

    built(("prepare", tags), chat_dir, build)   # see tests.repos.built
    return chat_dir / "repo"


PLANNED = "/rollback api 1.4.0 sev=low impact=minimal at=2026-11-24T22:00 slow memory leak"


def approved_plan(chat):
    """Declare :data:`PLANNED` (window 22:00 Berlin) and approve it (Bob, Carol): scheduled."""
    chat.command("U0ALICE", PLANNED)
    msg = rb_message(chat)
    chat.react("U0BOB", msg)
    chat.react("U0CAROL", msg)
    return msg


def edit_config(chat, old: str, new: str) -> None:
    """Change the chat's relbot.yml and reload it, as SIGHUP does."""
    text = chat.config_path.read_text()
    assert old in text
    chat.config_path.write_text(text.replace(old, new))
    chat.holder.reload()


def config_sync_config(src, dst, approval: str = "{quorum: 1}") -> str:
    """The rollback config plus a config sync api-config (src.git -> dst.git) for api."""
    syncs = (f"syncs:\n  - name: api-config\n    type: config\n    product: api\n"
             f"    source: {{repo: {src}, ref: main, path: config/}}\n"
             f"    target: {{repo: {dst}, branch: main, path: config/}}\n"
             f"    approval: {approval}\n")
    return rollback_config(extra=syncs, product_extra="      config_sync: api-config\n")


GROUPS = {"release-managers": ["U0CAROL"], "oncall": ["U0DAVE"]}


def rollback_chat(make_chat, config: str | None = None, **kw):
    """A chat whose directory holds the scripts and the tagged repo."""
    chat = make_chat(config or rollback_config(), groups=GROUPS, **kw)
    prepare(chat.tmp)
    return chat


def rb_message(chat):
    """The (latest) rollback message."""
    return [m for m in chat.messages if m.rendered.startswith("== Rollback RB-")][-1]


def verified(chat, rid: str = "RB-0001") -> dict:
    """The evidence record of ``rid``, after checking it against the audit log."""
    from bot.rollback.evidence import evidence, verify_evidence
    from bot.rollback.lookup import find

    rec = evidence(chat.svc, find(chat.svc, rid))
    assert verify_evidence(chat.svc.audit, rec) == []
    return rec
