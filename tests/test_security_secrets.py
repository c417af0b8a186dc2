"""Issue 13 Why-2: secrets by shape -- secret-looking keys, URL userinfo, `secrets.patterns`."""

from __future__ import annotations

import functools
import logging
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.errors import ConfigError
from bot.redact import Redactor, is_secret_key, scrub, scrub_text
from tests.test_sync_plan import make_remote, sh

GHP = "ghp_" + "A1b2C3d4" * 4 + "Zz9Y"   # 36 characters after ghp_
ACME = "acme_" + "q7" * 10


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *a: object) -> None:
        pass


@pytest.fixture
def dumb_http(tmp_path: Path):
    """A static HTTP server over tmp_path: git's dumb HTTP protocol (fetch only)."""
    handler = functools.partial(_Quiet, directory=str(tmp_path))
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()
    yield f"127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_key_shapes() -> None:
    for k in ("password", "DB_PASSWD", "clientSecret", "apiKey", "api_key", "key", "ssh-key",
              "github_token", "Authorization", "auth", "basic_auth", "private_key",
              "credentials", "passphrase"):
        assert is_secret_key(k), k
    for k in ("author", "keys", "key_changes", "monkey", "pool", "host", "authored_by",
              "channel", "evidence_id", "digest"):
        assert not is_secret_key(k), k


def test_scrub_masks_nested_secret_keys_urls_and_patterns() -> None:
    r = Redactor(values=["hunter2-long"], patterns=[r"acme_[a-z0-9]{20}"])
    data = {"db": {"password": "NEW-DB-PASSWORD-42", "pool": 10, "creds": {"x": 1}},
            "tokens": ["a1", "b2"], "port": 5432, "enabled": True,
            "url": f"https://x-access-token:{GHP}@git.example/org/repo.git",
            "note": f"key {ACME} and hunter2-long and xoxb-123456-abcdef"}
    out = r.obj(data)
    assert out["db"] == {"password": "[REDACTED]", "pool": 10, "creds": {"x": 1}}
    assert out["tokens"] == ["[REDACTED]", "[REDACTED]"] and out["enabled"] is True
    assert out["url"] == "https://***@git.example/org/repo.git"
    assert out["note"] == "key [REDACTED] and [REDACTED] and [REDACTED]"
    assert scrub_text(f"fatal: unable to access 'https://u:{GHP}@h/o/r/': 403") == (
        "fatal: unable to access 'https://***@h/o/r/': 403")
    assert "user@example.com" in scrub_text("mail user@example.com")  # not a URL
    # secret-looking names in free text (command output, logs): the value goes
    assert scrub_text("export DB_PASSWORD=hunter2 ok") == "export DB_PASSWORD=[REDACTED] ok"
    assert scrub_text('{"api_key": "abc123"}') == '{"api_key": "[REDACTED]"}'
    assert scrub_text("db.password: changed (value hidden)") == (
        "db.password: changed (value hidden)")
    assert scrub_text("tokens are fine; the secret is out") == "tokens are fine; the secret is out"


def test_secrets_config_list_and_mapping_shapes() -> None:
    old = parse_config("channel: C0R\nsecrets: [hunter2-long, env:X]\n")
    assert old.secrets.values == ("hunter2-long", "env:X") and old.secrets.patterns == ()
    new = parse_config("channel: C0R\nsecrets:\n  values: [hunter2-long]\n"
                       "  patterns: ['acme_[a-z0-9]{20}']\n")
    assert scrub_text(f"a {ACME} hunter2-long", new.secrets) == "a [REDACTED] [REDACTED]"
    assert new.secrets.redactor is new.secrets.redactor  # compiled once per config
    assert scrub({"a": ACME}, new.secrets) == {"a": "[REDACTED]"}
    with pytest.raises(ConfigError) as exc:
        parse_config("channel: C0R\nsecrets:\n  patterns: ['(unclosed']\n")
    assert "relbot.yml:3: secrets.patterns" in str(exc.value)


def _config_sync_yaml(src_url: str, dst: Path) -> str:
    return f"""\
channel: C0RELEASES
approvers: [U0ALICE, U0BOB]
secrets:
  patterns: ['acme_[a-z0-9]{{20}}']
syncs:
  - name: app-config
    type: config
    source: {{repo: "{src_url}", ref: main}}
    target: {{repo: {dst}, branch: main}}
"""


def test_config_sync_hides_secret_values_and_url_credentials(make_chat, tmp_path: Path,
                                                            dumb_http: str, caplog) -> None:
    """Why-2: a config sync posted `db.password: "OLD" -> "NEW-DB-PASSWORD-42"` and the
    `https://x-access-token:ghp_...@host` URL in the dry-run, the audit log and the log."""
    src = make_remote(tmp_path, "src", {"app.yml": "db:\n  password: NEW-DB-PASSWORD-42\n"
                                        f"  pool: 20\n  api_key: {ACME}\n"})
    sh("update-server-info", cwd=src)
    dst = make_remote(tmp_path, "dst", {"app.yml": "db:\n  password: OLD\n  pool: 10\n"})
    url = f"http://x-access-token:{GHP}@{dumb_http}/src.git"
    chat = make_chat(_config_sync_yaml(url, dst))
    caplog.set_level(logging.DEBUG)
    chat.command("U0ALICE", "/sync plan app-config")
    dry = chat.last()
    assert "db.password: changed (value hidden)" in dry.rendered, dry.rendered
    assert "db.pool: 10 -> 20" in dry.rendered
    assert "+ db.api_key: (value hidden)" in dry.rendered
    assert f"http://***@{dumb_http}/src.git" in dry.rendered
    seen = "\n".join([m.rendered for m in chat.messages] + [m.text for m in chat.messages]
                     + [str(e.as_dict()) for e in chat.audit()] + [caplog.text]
                     + [str(r["plan"]) for r in chat.svc.db.conn().execute(
                         "SELECT plan FROM sync_plans")])
    for secret in ("NEW-DB-PASSWORD-42", '"OLD"', ACME):
        assert secret not in seen, secret
    assert GHP not in "\n".join([m.rendered for m in chat.messages]
                                + [str(e.as_dict()) for e in chat.audit()] + [caplog.text])


def test_git_error_reply_masks_url_credentials(make_chat, tmp_path: Path, caplog) -> None:
    """Why-2: error replies carried git's stderr with the credentials in the URL."""
    dst = make_remote(tmp_path, "dst", {"app.yml": "a: 1\n"})
    url = f"http://x-access-token:{GHP}@127.0.0.1:9/org/missing.git"
    chat = make_chat(_config_sync_yaml(url, dst))
    caplog.set_level(logging.DEBUG)
    said = chat.command("U0ALICE", "/sync plan app-config")
    assert "http://***@127.0.0.1:9/org/missing.git" in said.text, said.text
    everything = said.text + caplog.text + "".join(str(e.as_dict()) for e in chat.audit())
    assert GHP not in everything and "x-access-token" not in everything
