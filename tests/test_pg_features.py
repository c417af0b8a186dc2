"""Feature tests re-run on PostgreSQL through the real Bolt app (signed requests, the Web API
stand-in, real git repos and scripts): the same assertions as on SQLite, with each chat's
database a fresh PostgreSQL schema."""

from __future__ import annotations

from pathlib import Path

from tests import (
    test_foundation_slack,
    test_release_flow,
    test_rollback_immediate,
    test_sync_flow,
)


def test_sync_approval_flow_on_postgres(tmp_path: Path, pg_make_chat) -> None:
    test_sync_flow.test_plan_approve_execute(tmp_path, pg_make_chat)


def test_sync_execute_and_stale_on_postgres(tmp_path: Path, pg_make_chat) -> None:
    test_sync_flow.test_execute_and_stale(tmp_path, pg_make_chat)


def test_sync_lock_conflict_on_postgres(tmp_path: Path, pg_make_chat) -> None:
    test_sync_flow.test_manual_apply_and_lock_conflict(tmp_path, pg_make_chat)


def test_rb_imm_on_postgres(pg_make_chat, monkeypatch) -> None:
    test_rollback_immediate.test_immediate_rollback_runs_at_once_and_locks_the_product(
        pg_make_chat, monkeypatch)


def test_racing_rollbacks_on_postgres(pg_make_chat) -> None:
    test_rollback_immediate.test_two_racing_rollbacks_of_one_product_exactly_one_runs(
        pg_make_chat)


def test_release_flow_on_postgres(tmp_path: Path, pg_make_chat) -> None:
    test_release_flow.test_advance_blocked_with_reason_then_buttons(tmp_path, pg_make_chat)


def test_slack_retry_recorded_once_on_postgres(pg_make_chat) -> None:
    test_foundation_slack.test_slack_retry_of_the_same_event_is_recorded_once(pg_make_chat())


def test_concurrent_appends_on_postgres(pg_make_chat) -> None:
    test_foundation_slack.test_concurrent_appends_keep_one_unbroken_chain(pg_make_chat())
