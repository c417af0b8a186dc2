"""A PostgreSQL server for the tests, and a fresh schema per test.

Where the server comes from, in order:

1. ``RELBOT_TEST_DATABASE_URL`` (``.ci/run`` sets it to the machine's server);
2. a throwaway cluster made with the local ``initdb``/``pg_ctl`` in a temporary directory,
   listening on loopback, removed after the run;
3. none: tests that need PostgreSQL are skipped, saying why. With
   ``RELBOT_TEST_REQUIRE_PG=1`` (CI) they fail instead of skipping.

Every test gets its own schema (``relbot_t_<run>_<n>``) through ``options=-csearch_path``,
so parallel or repeated runs on one database never see each other's tables.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest

RUN = secrets.token_hex(3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Throwaway:
    """``initdb`` + ``pg_ctl start`` in a temporary directory (trust auth, loopback)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="relbot-pg-"))
        self.port = _free_port()
        user = "relbot"
        env = {**os.environ, "LC_ALL": "C"}
        run_as: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run the server as nobody
            shutil.chown(self.dir, "nobody")
            run_as = ["runuser", "-u", "nobody", "--"]
        data = self.dir / "data"
        subprocess.run([*run_as, "initdb", "-D", str(data), "-U", user, "-A", "trust",
                        "-E", "UTF8", "--no-locale"], check=True, capture_output=True,
                       env=env)
        subprocess.run([*run_as, "pg_ctl", "-D", str(data), "-l", str(self.dir / "log"), "-w",
                        "-o", f"-h 127.0.0.1 -p {self.port} -k {self.dir}", "start"],
                       check=True, capture_output=True, env=env)
        self._stop = [*run_as, "pg_ctl", "-D", str(data), "-m", "immediate", "stop"]
        self.url = f"postgresql://{user}@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run(self._stop, capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def server_url() -> tuple[str | None, str, Throwaway | None]:
    """``(base url or None, where it came from / why not, throwaway to stop)``."""
    url = os.environ.get("RELBOT_TEST_DATABASE_URL", "").strip()
    if url:
        return url, "RELBOT_TEST_DATABASE_URL", None
    if shutil.which("initdb") and shutil.which("pg_ctl"):
        try:
            t = Throwaway()
        except (OSError, subprocess.CalledProcessError) as exc:
            return None, f"local initdb/pg_ctl failed: {exc}", None
        return t.url, "throwaway server", t
    return None, ("no PostgreSQL: set RELBOT_TEST_DATABASE_URL or install initdb/pg_ctl "
                  "(PostgreSQL server binaries)"), None


def with_schema(url: str, schema: str) -> str:
    """``url`` whose connections use ``schema`` (libpq ``options=-csearch_path=...``)."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


class Schemas:
    """Creates and drops the per-test schemas on one server."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.url, self.n = url, 0
        self._psycopg = psycopg

    def create(self) -> tuple[str, str]:
        self.n += 1
        name = f"relbot_t_{RUN}_{os.getpid()}_{self.n}"
        with self._psycopg.connect(self.url, autocommit=True) as c:
            c.execute(f'CREATE SCHEMA "{name}"')
        return name, with_schema(self.url, name)

    def drop(self, name: str) -> None:
        with self._psycopg.connect(self.url, autocommit=True) as c:
            c.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def unavailable(reason: str) -> None:
    """Skip (or, with RELBOT_TEST_REQUIRE_PG=1, fail) a test needing PostgreSQL."""
    if os.environ.get("RELBOT_TEST_REQUIRE_PG") == "1":
        pytest.fail(f"PostgreSQL required (RELBOT_TEST_REQUIRE_PG=1) but {reason}")
    pytest.skip(f"PostgreSQL tests skipped: {reason}")
