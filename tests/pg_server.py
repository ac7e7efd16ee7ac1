"""A real PostgreSQL server for the tests: Debian's ``initdb`` and ``pg_ctl`` on a temporary
folder and a free loopback port, started once per test session and stopped at its end.

PostgreSQL refuses to run as root; as root (CI, these machines) the server runs as ``nobody``
in a folder made for it. Each test that asks for a PostgreSQL store gets a database of its own,
created from a template that already holds the schema (fast) and dropped after the test.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import pytest

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
SUPERUSER = "mlnb_admin"
SUPERUSER_PASSWORD = "s3cret-admin-pw"
TEMPLATE = "mlnb_template"


def pg_tool(name: str) -> str | None:
    """The path of a PostgreSQL server program (``initdb``, ``pg_ctl``), or None if missing."""
    for folder in PG_BIN_DIRS:
        if (folder / name).is_file():
            return str(folder / name)
    return shutil.which(name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgServer:
    """A running server: its port and how to reach it as the superuser."""

    folder: Path
    port: int
    run_as: str | None
    options: str
    _numbers: Iterator[int]

    def url(self, database: str = "postgres", user: str = SUPERUSER,
            password: str | None = SUPERUSER_PASSWORD) -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str, database: str = "postgres") -> list[tuple[object, ...]]:
        """Run one statement as the superuser (autocommit: CREATE DATABASE needs it)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cur = conn.execute(sql)
            return list(cur.fetchall()) if cur.description else []

    def new_database(self, template: str | None = TEMPLATE) -> str:
        """A fresh database (from the schema template when there is one); returns its name."""
        name = f"mlnb_test_{os.getpid()}_{next(self._numbers)}"
        clause = f" TEMPLATE {template}" if template else ""
        self.admin(f"CREATE DATABASE {name}{clause}")
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def restart(self, down_s: float = 0.0) -> None:
        """Restart the server as an administrator does (``pg_ctl stop -m fast``: every
        connection is cut), down for ``down_s`` seconds."""
        ctl = pg_tool("pg_ctl")
        assert ctl
        data = str(self.folder / "data")
        _run([ctl, "-D", data, "-m", "fast", "stop"], self.run_as)
        time.sleep(down_s)
        _run([ctl, "-D", data, "-o", self.options, "-l", str(self.folder / "log"), "-w", "-t", "60",
              "start"], self.run_as)

    def stop(self) -> None:
        ctl = pg_tool("pg_ctl")
        assert ctl
        _run([ctl, "-D", str(self.folder / "data"), "-m", "immediate", "stop"], self.run_as,
             check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_server(*, durable: bool = False) -> PgServer:
    """initdb + pg_ctl start on 127.0.0.1 and a free port.

    :param durable: keep fsync on, as on a real server (benchmarks); the tests' server turns it
        off (nothing it holds needs to survive a power cut).
    """
    initdb, ctl = pg_tool("initdb"), pg_tool("pg_ctl")
    if not initdb or not ctl:
        pytest.fail("PostgreSQL's server programs (initdb, pg_ctl) are missing: `make test` "
                    "installs Debian's postgresql package; run it, or apt-get install postgresql.")
    run_as = "nobody" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="mlnb-pg-"))
    folder.chmod(0o755)  # the server user must reach its data folder
    data = folder / "data"
    pwfile = folder / "pw"
    pwfile.write_text(SUPERUSER_PASSWORD + "\n")
    if run_as:
        entry = pwd.getpwnam(run_as)
        for path in (folder, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    _run([initdb, "-D", str(data), "-U", SUPERUSER, "--pwfile", str(pwfile), "-A", "scram-sha-256",
          "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], run_as)
    port = free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c max_connections=200"
    if not durable:
        options += " -c fsync=off -c full_page_writes=off"
    _run([ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "-t", "60", "start"],
         run_as)
    server = PgServer(folder, port, run_as, options, count())
    deadline = time.monotonic() + 30
    while True:
        try:
            server.admin("SELECT 1")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    return server


def _run(args: list[str], run_as: str | None, check: bool = True) -> None:
    result = subprocess.run(args, user=run_as, capture_output=True, text=True, cwd="/")
    if check and result.returncode:
        raise RuntimeError(f"{' '.join(args[:2])} failed: {result.stdout}\n{result.stderr}")
