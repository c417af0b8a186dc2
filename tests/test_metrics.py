"""``GET /metrics`` scraped over HTTP from the running bot, as Prometheus would."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.rollback_fixtures import prepare, rollback_config
from tests.test_sync_flow import plan_msg, setup_repos


def scrape(chat) -> tuple[str, dict[tuple[str, tuple], float]]:  # type: ignore[no-untyped-def]
    url = chat.local.http.url.replace("/slack/events", "/metrics")
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200
        ctype = resp.headers["Content-Type"]
        text = resp.read().decode()
    samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return ctype, samples


def value(samples, name, **labels) -> float:  # type: ignore[no-untyped-def]
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _chat(tmp_path: Path, make_chat):  # type: ignore[no-untyped-def]
    src, dst = setup_repos(tmp_path)
    syncs = (f"syncs:\n  - name: docs\n    type: cross-repo\n"
             f"    source: {{repo: {src}, ref: main, path: docs/}}\n"
             f"    target: {{repo: {dst}, branch: main, path: content/}}\n")
    chat = make_chat(rollback_config(extra=syncs), groups={"release-managers": ["U0CAROL"],
                                                           "oncall": ["U0DAVE"]})
    prepare(chat.tmp)
    return chat, dst


def test_metrics_count_commands_votes_executions_rollbacks_and_slack_errors(
        tmp_path: Path, make_chat) -> None:
    chat, dst = _chat(tmp_path, make_chat)
    ctype, before = scrape(chat)
    assert ctype.startswith("text/plain; version=")
    assert value(before, "relbot_votes_total", result="counted") == 0

    chat.command("U0ALICE", "/sync plan docs")
    chat.command("U0ALICE", "/sync frobnicate")                  # usage
    chat.command("U0MALLORY", "/rollback api sev=1 impact=widespread x")  # not permitted
    msg = plan_msg(chat)
    chat.api.state.faults.fail("chat.postEphemeral", 200, error="channel_not_found")
    chat.react("U0ALICE", msg)                                   # self-approval refused
    chat.react("U0BOB", msg)
    chat.react("U0CAROL", msg)                                   # quorum: executes
    chat.command("U0ALICE", "/rollback api sev=1 impact=widespread error rate 40%")

    _, s = scrape(chat)
    assert value(s, "relbot_commands_total", command="/sync", outcome="run") == 1
    assert value(s, "relbot_commands_total", command="/sync", outcome="usage") == 1
    assert value(s, "relbot_commands_total", command="/rollback", outcome="refused") == 1
    assert value(s, "relbot_commands_total", command="/rollback", outcome="run") == 1
    assert value(s, "relbot_votes_total", result="refused") == 1
    assert value(s, "relbot_votes_total", result="counted") == 2
    assert value(s, "relbot_executions_total", kind="sync", outcome="success") == 1
    assert value(s, "relbot_executions_total", kind="rollback", outcome="success") == 1
    assert value(s, "relbot_rollbacks_total", type="immediate", procedure="RB-IMM") == 1
    assert value(s, "relbot_slack_api_errors_total", method="chat.postEphemeral",
                 error="channel_not_found") == 1


def test_job_lag_is_how_late_the_most_overdue_job_is(tmp_path: Path, make_chat) -> None:
    chat, _ = _chat(tmp_path, make_chat)
    sched = chat.svc.scheduler
    sched.register("test.noop", lambda svc, **kw: None)
    _, s = scrape(chat)
    assert value(s, "relbot_job_lag_seconds") == 0
    from datetime import timedelta

    sched.add_once("t-1", chat.clock.now() + timedelta(minutes=1), "test.noop")
    chat.clock.advance(minutes=5)
    _, s = scrape(chat)
    assert value(s, "relbot_job_lag_seconds") == 240
    assert value(s, "relbot_jobs_due") >= 1
    chat.run_due()
    _, s = scrape(chat)
    assert value(s, "relbot_job_lag_seconds") == 0


def test_unknown_path_is_404_and_healthz_still_ok(chat) -> None:  # type: ignore[no-untyped-def]
    base = chat.local.http.url.replace("/slack/events", "")
    with urllib.request.urlopen(base + "/healthz", timeout=10) as resp:
        assert resp.read() == b"ok"
    try:
        urllib.request.urlopen(base + "/metricz", timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
    else:
        raise AssertionError("expected 404")


def test_outbox_depth_and_age_while_slack_refuses_posts(chat) -> None:  # type: ignore[no-untyped-def]
    _, s = scrape(chat)
    assert value(s, "relbot_outbox_depth") == 0
    assert value(s, "relbot_outbox_oldest_age_seconds") == 0
    chat.api.state.faults.fail("chat.postMessage", 500, times=None)
    chat.svc.outbox.post("C0RELEASES", "held back", None)
    chat.clock.advance(seconds=90)
    _, s = scrape(chat)
    assert value(s, "relbot_outbox_depth") >= 1
    assert value(s, "relbot_outbox_oldest_age_seconds") >= 90
