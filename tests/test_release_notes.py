"""Notes grouping and check decisions on real repos."""

from __future__ import annotations

from pathlib import Path

from bot.release import checks as ck
from bot.release import notes as nt
from bot.release import version as vs
from tests.test_release_fixtures import commit, make_repo


def test_notes_grouping(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, msgs=("feat(ui): dark mode", "fix: crash", "perf: faster load",
                                     "feat!: drop v1 API", "chore: deps", "docs: guide",
                                     "Update README by hand"))
    commit(repo, "fix(config): rename key\n\nBREAKING CHANGE: `db.pool` is now `db.pool_size`;"
           "\nrename it in relbot.yml.\nRefs: #42")
    commit(repo, "feat(search): fuzzy\n\nLabels: highlight, ux")
    groups = nt.group(vs.commits(repo, "v1.2.0"), highlight_scopes=("ui",),
                      highlight_labels=("highlight",))
    titles = {k: [e.commit.title for e in v] for k, v in groups.items()}
    assert titles["Features"] == ["dark mode", "fuzzy"]
    assert titles["Fixes"] == ["crash"]
    assert titles["Improvements"] == ["faster load", "guide"]
    assert titles["Breaking changes"] == ["drop v1 API", "rename key"]
    assert titles["Other changes"] == ["Update README by hand"]        # never dropped
    assert titles["excluded"] == ["deps"]
    # Highlights: breaking changes + configured scope + configured label, not Features
    assert titles["Highlights"] == ["dark mode", "drop v1 API", "rename key", "fuzzy"]
    [footer] = [e for e in groups["Breaking changes"] if e.commit.title == "rename key"]
    assert footer.note == "`db.pool` is now `db.pool_size`; rename it in relbot.yml."
    md = nt.markdown("api", "2.0.0", groups)
    assert md.index("## Highlights") < md.index("## Breaking changes") < md.index("## Features")
    assert "  `db.pool` is now `db.pool_size`; rename it in relbot.yml." in md
    assert "## Other changes\n\n- Update README by hand" in md
    assert "deps" not in md


def test_command_check_timeout_and_missing(tmp_path: Path) -> None:
    ok, ev = ck.run_command(("sleep", "5"), tmp_path, 0.2)
    assert not ok and "timed out" in ev
    ok, ev = ck.run_command(("no-such-tool-xyz",), tmp_path, 5)
    assert not ok and "command not found" in ev


def test_builtin_decisions() -> None:
    log = "# Changelog\n\n## [1.4.0] - 2026-11-24\n"
    ver = 'version = "1.4.0-rc.1"\n'
    assert ck.changelog_has(log, "CHANGELOG.md", "1.4.0")[0]
    assert not ck.changelog_has(log, "CHANGELOG.md", "1.4.1")[0]
    assert not ck.changelog_has(None, "CHANGELOG.md", "1.4.0")[0]
    assert not ck.version_file_has(ver, "pyproject.toml", "1.4.0")[0]
    assert ck.version_file_has(ver, "pyproject.toml", "1.4.0-rc.1")[0]
    assert ck.initial("minor")["RL-07"] == "n/a" and ck.initial("major")["RL-07"] == "pending"


def test_notes_through_slack_keep_footers_other_changes_and_provenance(tmp_path: Path,
                                                                      make_chat) -> None:
    import yaml

    from tests.test_release_fixtures import config

    repo = make_repo(tmp_path, msgs=("feat(billing): invoices", "Fix typo in handler"))
    commit(repo, "fix: pool\n\nBREAKING CHANGE: `pool` is now `pool_size`.")
    chat = make_chat(config(repo, product_extra="      highlight_scopes: [billing]\n"))
    chat.command("U0ALICE", "/release start api")
    chat.command("U0BOB", "/release notes")
    md = (repo / "release-notes" / "v2.0.0.md").read_text()
    assert "## Highlights\n\n- invoices" in md and "- pool (" in md
    assert "## Breaking changes\n\n- pool (" in md and "  `pool` is now `pool_size`." in md
    assert "## Other changes\n\n- Fix typo in handler" in md
    msg = [m for m in chat.messages if m.rendered.startswith("== Release api")][0]
    assert any("`pool` is now `pool_size`." in m.text for m in chat.thread(msg))
    data = yaml.safe_load((repo / "release-notes" / "v2.0.0.yaml").read_text())
    other = data["sections"]["Other changes"][0]
    assert other["why"] == "not a Conventional Commit" and len(other["sha"]) == 40
    assert data["sections"]["Breaking changes"][0]["why"] == "BREAKING CHANGE footer"
    assert data["to"] == rs_commit(chat)


def rs_commit(chat) -> str:
    from bot.release import service as rs
    return rs.find(chat.svc, "2.0.0").commit
