"""A fresh PostgreSQL database per test, on the server named by ``BDNEX_TEST_POSTGRES_URL``.

The server is a throwaway one (``.ci/postgres start DIR`` prints its URL); its role may create
databases, so every test gets its own and tests run in parallel (pytest-xdist) without meeting.
Without the variable the tests skip with the reason, or fail when ``BDNEX_REQUIRE_POSTGRES=1``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

SERVER_VARIABLE = "BDNEX_TEST_POSTGRES_URL"
REQUIRED_VARIABLE = "BDNEX_REQUIRE_POSTGRES"


def with_database(url: str, name: str) -> str:
    """The same server and credentials, another database."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """Create an empty database, yield its URL, drop it afterwards (even with sessions left open)."""
    import psycopg
    from psycopg import sql

    name = f"bdnex_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(server_url, name)
    finally:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        with psycopg.connect(server_url, autocommit=True) as admin:
            # an autovacuum worker on the database is not ours to terminate (PostgreSQL 15 refuses
            # with "must be a member of the role..."): it ends within moments, so try again
            for attempt in range(20):
                try:
                    admin.execute(drop)
                    break
                except psycopg.errors.InsufficientPrivilege:
                    if attempt == 19:
                        raise
                    time.sleep(0.5)


def server_url() -> str | None:
    return os.environ.get(SERVER_VARIABLE) or None


class PrivateServerUnavailable(RuntimeError):
    """No PostgreSQL server binaries here (or initdb failed): the caller skips with this reason."""


def _server_bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda path: int(path.parts[-3]))
    if not found:
        raise PrivateServerUnavailable("PostgreSQL server binaries not found under /usr/lib/postgresql")
    return found[-1].parent


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateServer:
    """A PostgreSQL server of one test module, which the test may stop and start again (the shared
    server of ``BDNEX_TEST_POSTGRES_URL`` is never stopped). Its superuser connects over the Unix
    socket in :attr:`directory`; :attr:`url` is the password role ``bdnex`` (owner of database
    ``bdnex``) over TCP, as users connect."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.bindir = _server_bindir()
        self.port = _free_port()
        self.password = uuid.uuid4().hex
        self.url = f"postgresql://bdnex:{self.password}@127.0.0.1:{self.port}/bdnex"

    def _as_owner(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        result = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise PrivateServerUnavailable(f"{Path(command[0]).name} failed: {result.stderr.strip()[-300:]}")
        return result

    def create(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
        self._as_owner(
            str(self.bindir / "initdb"), "-D", str(self.directory / "data"), "-U", "postgres", "--auth-local=trust",
            "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        self.start()
        self.superuser_sql(
            f"CREATE ROLE bdnex LOGIN CREATEDB CREATEROLE PASSWORD '{self.password}'",
            "CREATE DATABASE bdnex OWNER bdnex",
        )

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.directory} "
            "-c fsync=off -c max_connections=100"
        )
        self._as_owner(
            str(self.bindir / "pg_ctl"), "-D", str(self.directory / "data"), "-l", str(self.directory / "server.log"),
            "-w", "-t", "60", "-o", options, "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """``immediate``: the server dies as in a crash, without closing its connections cleanly."""
        self._as_owner(str(self.bindir / "pg_ctl"), "-D", str(self.directory / "data"), "-m", mode, "-w", "stop")

    def superuser_sql(self, *statements: str, database: str = "postgres") -> list[tuple[object, ...]]:
        """Run statements as the superuser; the rows of the last one."""
        import psycopg

        conninfo = f"host={self.directory} port={self.port} user=postgres dbname={database}"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            rows: list[tuple[object, ...]] = []
            for statement in statements:
                cursor = conn.execute(statement)
                rows = cursor.fetchall() if cursor.description else []
            return rows

    def new_database(self) -> str:
        """A new empty database owned by ``bdnex``; its URL."""
        name = f"bdnex_test_{uuid.uuid4().hex[:12]}"
        self.superuser_sql(f"CREATE DATABASE {name} OWNER bdnex")
        return with_database(self.url, name)


@contextmanager
def private_server() -> Iterator[PrivateServer]:
    """Start a private server (its folder outside any root-only temporary folder: the server runs as
    the ``postgres`` user); stop it and remove its folder afterwards."""
    import tempfile

    if shutil.which("runuser") is None and os.geteuid() == 0:
        raise PrivateServerUnavailable("runuser is needed to run PostgreSQL as the postgres user")
    directory = Path(tempfile.mkdtemp(prefix="bdnex-private-pg-"))
    directory.chmod(0o755)
    server = PrivateServer(directory)
    try:
        server.create()
        yield server
    finally:
        server._as_owner(
            str(server.bindir / "pg_ctl"), "-D", str(directory / "data"), "-m", "immediate", "stop", check=False
        )
        shutil.rmtree(directory, ignore_errors=True)
