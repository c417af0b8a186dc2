"""Issue 13 item 9: property-based tests (hypothesis) for the command word parser, the
request shape check, the config loader and the audit append/verify round trip."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.clock import FakeClock
from bot.config import parse_config
from bot.errors import ConfigError, UsageError
from bot.http import MAX_DEPTH, check_request, shape_error
from bot.words import split_words
from handlers import COMMANDS
from handlers.base import parse_command
from storage.audit import AuditLog
from storage.db import Database

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

plain_words = st.lists(st.text(st.characters(categories=("L", "N"), include_characters="-_.:@"),
                               min_size=1, max_size=12), max_size=8)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
json_values = st.recursive(json_scalars, lambda kids: st.lists(kids, max_size=4)
                           | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                           max_leaves=25)


@FAST
@given(st.text(max_size=300))
def test_word_parser_never_raises_and_drops_no_words(text: str) -> None:
    words = split_words(text)
    assert all(isinstance(w, str) for w in words)
    assert all(w.strip() == w or '"' in text or "'" in text for w in words)
    for spec in COMMANDS.values():
        try:
            cmd = parse_command(spec, text, "U0ALICE", "C0RELEASES")
        except UsageError:
            continue  # a clear usage answer, never a fault
        assert cmd.user == "U0ALICE" and isinstance(cmd.opts, dict)


@FAST
@given(plain_words)
def test_plain_words_split_like_whitespace(words: list[str]) -> None:
    assert split_words(" ".join(words)) == [w for w in words if w]


@FAST
@given(json_values, st.sampled_from(["application/json", "application/x-www-form-urlencoded"]))
def test_shape_check_answers_for_any_json(value: object, ctype: str) -> None:
    from urllib.parse import urlencode

    text = json.dumps(value)
    body = text if ctype == "application/json" else urlencode({"payload": text})
    problem = shape_error(body, ctype)
    assert problem is None or isinstance(problem, str)
    if not isinstance(value, dict):
        assert problem is not None


@FAST
@given(st.binary(max_size=400), st.integers(min_value=0, max_value=MAX_DEPTH * 3))
def test_signed_request_check_never_raises(raw: bytes, depth: int) -> None:
    secret = "s" * 32
    for body in (raw, b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        ts = str(int(time.time()))
        sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body,
                               hashlib.sha256).hexdigest()
        for ctype in ("application/json", "application/x-www-form-urlencoded"):
            got = check_request(secret, body, {"x-slack-request-timestamp": ts,
                                               "x-slack-signature": sig, "content-type": ctype})
            assert got is None or got[0] in (400, 413)
            bad = check_request(secret, body, {"x-slack-request-timestamp": ts,
                                               "x-slack-signature": "v0=00", "content-type": ctype})
            assert bad is not None and bad[0] == 401


config_docs = st.dictionaries(
    st.sampled_from(["channel", "timezone", "approvers", "approval", "secrets", "audit",
                     "permissions", "syncs", "bogus", "usergroup_cache_ttl"]),
    json_values, max_size=6)


@FAST
@given(config_docs | st.text(max_size=200))
def test_config_loader_gives_a_config_or_file_line_errors(doc: object) -> None:
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc, allow_unicode=True)
    try:
        cfg = parse_config(text, "relbot.yml")
    except ConfigError as exc:
        assert exc.issues and all(str(i).startswith("relbot.yml") for i in exc.issues)
    else:
        assert cfg.channel


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(json_values, st.text(max_size=20), json_values,
                          st.dictionaries(st.text(max_size=10), json_values, max_size=5)),
                min_size=1, max_size=5),
       st.booleans())
def test_audit_append_verify_round_trip(tmp_path_factory, entries: list, keyed: bool) -> None:
    path = Path(tmp_path_factory.mktemp("audit")) / "a.db"
    log = AuditLog(Database(path), FakeClock("2026-11-24T09:00:00+00:00"),
                   key=b"k" * 32 if keyed else None)
    try:
        for actor, action, subject, payload in entries:
            e = log.append(actor, action, subject, payload)
            assert log.get(e.seq) == e
        result = log.verify()
        assert result.ok and result.count == len(entries), result
    finally:
        log.db.close()


def test_a_backslash_is_a_letter_not_an_escape() -> None:
    """Found by the word-parser property: ``\\ `` became the word " " (shell escaping)."""
    assert split_words("\\ ") == ["\\"]
    assert split_words('deploy C:\\build "two words" won\'t') == [
        "deploy", "C:\\build", "two words", "won't"]
def test_found_by_hypothesis_a_huge_duration_is_a_config_error_not_a_traceback() -> None:
    try:
        parse_config("channel: C0RELEASES\nusergroup_cache_ttl: 86400000000000\n")
    except ConfigError as exc:
        assert str(exc).startswith("relbot.yml:2: usergroup_cache_ttl:"), str(exc)
        assert "out of range" in str(exc)
    else:
        raise AssertionError("accepted")


def test_found_by_hypothesis_a_non_breaking_space_separates_words() -> None:
    assert split_words("api\u00a0sev=1\u0085impact=widespread") == [
        "api", "sev=1", "impact=widespread"]
