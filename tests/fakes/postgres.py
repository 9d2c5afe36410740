"""A throw-away PostgreSQL server for the tests, from the machine's own server binaries.

    server = PostgresServer.start()          # initdb in a temporary folder, postgres on 127.0.0.1
    url = server.create_database()           # postgresql://newsbot@127.0.0.1:PORT/t_3 (fresh)
    ...
    server.stop()                            # the server and its folder are gone

The binaries come from Debian's `postgresql` package (/usr/lib/postgresql/<version>/bin), which
`make test` installs through .ci/system-deps; without them the tests fail with one line saying so
(they never skip). initdb refuses to run as root, so as root the server runs as the unprivileged
`postgres` user (or `nobody`) through `runuser`, in a folder that user owns. fsync is off: the
data is thrown away, and a crash test kills newsbot, never this server.

Connections from 127.0.0.1 need the password (scram-sha-256), so the tests exercise the password
path newsbot uses in production; the harness itself talks over the unix socket (trust).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg

USER = "newsbot"
PASSWORD = "pg-test-Secret-4711"  # distinctive, so a leak into a log or an error is found
INSTALL_HINT = ("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): "
                "install Debian's `postgresql` package (`make test` does it as root)")
_NUMBERS = itertools.count(1)


class PostgresMissing(Exception):
    """The server binaries are not on this machine."""


def bindir() -> Path:
    """The newest installed server's bin folder."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    if not found:
        raise PostgresMissing(INSTALL_HINT)
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _unprivileged() -> str | None:
    """The user to run the server as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PostgresMissing("running as root and neither a `postgres` nor a `nobody` user exists "
                          "to run the test PostgreSQL server as")


@dataclass
class PostgresServer:
    folder: Path
    port: int
    run_as: str | None
    bin: Path
    databases: list[str] = field(default_factory=list)

    @property
    def socket_dir(self) -> Path:
        return self.folder / "socket"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @classmethod
    def start(cls) -> PostgresServer:
        binaries, run_as = bindir(), _unprivileged()
        folder = Path(tempfile.mkdtemp(prefix="newsbot-pg-"))
        (folder / "socket").mkdir()
        (folder / "pw").write_text(PASSWORD + "\n", encoding="utf-8")
        if run_as is not None:
            account = pwd.getpwnam(run_as)
            for path in (folder, folder / "socket", folder / "pw"):
                os.chown(path, account.pw_uid, account.pw_gid)
        server = cls(folder, 0, run_as, binaries)
        server._run("initdb", "-D", str(server.data), "-U", USER, "--pwfile", str(folder / "pw"),
                    "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                    "--locale=C.UTF-8", "--no-sync")
        for attempt in range(3):  # another process may take the free port before we bind it
            server.port = _free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {server.port} "
                       f"-k {server.socket_dir} -c fsync=off -c synchronous_commit=off "
                       f"-c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB")
            done = server._run("pg_ctl", "-D", str(server.data), "-l",
                               str(folder / "server.log"), "-o", options, "-w", "-t", "60",
                               "start", check=False)
            if done.returncode == 0:
                return server
            if attempt == 2:
                log = (folder / "server.log").read_text(errors="replace")[-2000:]
                server.remove()
                raise RuntimeError(f"the test PostgreSQL did not start: {done.stderr}\n{log}")
        raise AssertionError("unreachable")

    def _run(self, program: str, *args: str,
             check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / program), *args]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                              cwd=self.folder)
        if check and done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stdout}{done.stderr}")
        return done

    def admin(self, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """A superuser connection over the unix socket (no password), autocommit."""
        return psycopg.connect(host=str(self.socket_dir), port=self.port, user=USER,
                               dbname=dbname, autocommit=True)

    def url(self, dbname: str, *, password: bool = False) -> str:
        """The database's URL over TCP; with the password in it when asked."""
        secret = f":{quote(PASSWORD, safe='')}" if password else ""
        return f"postgresql://{USER}{secret}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, *, password: bool = True) -> str:
        """A new empty database; returns its URL."""
        name = f"t_{os.getpid()}_{next(_NUMBERS)}"
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name}")
        self.databases.append(name)
        return self.url(name, password=password)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1].split("?")[0]
        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def empty_database(self, url: str) -> None:
        """Delete every row but the schema's record, and restart the id counters."""
        with self.admin(url.rsplit("/", 1)[1]) as conn:
            tables = [row[0] for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'schema_migrations'")]
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self.remove()

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
