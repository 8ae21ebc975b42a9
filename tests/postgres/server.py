"""A throw-away PostgreSQL server on loopback for the PostgreSQL tests: a new cluster in a
temporary folder, started on a free port of 127.0.0.1, its superuser's password made for the run
(scram-sha-256, handed out in the environment, never written beside the project), and removed
when the tests end. Debian's packaged cluster is never touched.

PostgreSQL refuses to run as root: as root the cluster belongs to the ``postgres`` system user
(the Debian package creates it), and initdb and the server run as that user (Popen's ``user``),
so that stopping signals the server itself.
"""
from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

USER = "meterledger"  # the superuser of the throw-away cluster, as the dbt profile expects


def binaries() -> Path:
    """The folder of initdb and postgres: Debian's newest version, else whatever PATH has."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError("PostgreSQL is not installed: run scripts/install-postgresql.sh (make test-postgres does)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    folder: Path
    port: int
    password: str
    process: subprocess.Popen | None = None

    @property
    def environment(self) -> dict[str, str]:
        """What the dbt profile's postgres target and the dlt destination read."""
        return {"METERLEDGER_PG_HOST": "127.0.0.1", "METERLEDGER_PG_PORT": str(self.port),
                "METERLEDGER_PG_USER": USER, "METERLEDGER_PG_PASSWORD": self.password}

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={USER} password={self.password} dbname={database}"

    def recreate_database(self, name: str) -> None:
        """An empty database ``name`` (dropped first, with any connection to it)."""
        import psycopg2

        connection = psycopg2.connect(self.dsn())
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'drop database if exists "{name}" with (force)')
                cursor.execute(f'create database "{name}"')
        finally:
            connection.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: PostgreSQL's smart shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _as_server_user() -> dict:
    """Popen's arguments that run a program as ``postgres`` when this process is root."""
    return {"user": "postgres", "group": "postgres", "extra_groups": []} if os.geteuid() == 0 else {}


def start(timeout: float = 60.0) -> PostgresServer:
    """initdb a new cluster and start it on a free loopback port; returns once it accepts connections."""
    bin_dir = binaries()
    folder = Path(tempfile.mkdtemp(prefix="meterledger-postgres-"))
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(sockets, "postgres")
    password = secrets.token_urlsafe(24)
    password_file = folder / "password"
    password_file.write_text(password)
    if os.geteuid() == 0:
        shutil.chown(password_file, "postgres")
    try:
        initdb = subprocess.run(
            [str(bin_dir / "initdb"), "--pgdata", str(data), "--username", USER, "--pwfile", str(password_file),
             "--auth", "scram-sha-256", "--encoding", "UTF8", "--locale", "C.UTF-8", "--no-sync"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=folder, **_as_server_user())
    finally:
        password_file.unlink()
    if initdb.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed (exit {initdb.returncode}): {initdb.stderr.strip()[-2000:]}")
    server = PostgresServer(folder=folder, port=_free_port(), password=password)
    # Durability is not wanted from a cluster that is thrown away: fsync and friends off.
    settings = {"listen_addresses": "127.0.0.1", "port": str(server.port), "unix_socket_directories": str(sockets),
                "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
                "max_connections": "50", "shared_buffers": "256MB", "TimeZone": "UTC"}
    options = [item for key, value in settings.items() for item in ("-c", f"{key}={value}")]
    with open(folder / "server.log", "wb") as log:  # the child keeps its own descriptor
        server.process = subprocess.Popen([str(bin_dir / "postgres"), "-D", str(data), *options],
                                          stdout=log, stderr=subprocess.STDOUT, cwd=folder, **_as_server_user())
    deadline = time.monotonic() + timeout
    import psycopg2

    while True:
        try:
            psycopg2.connect(server.dsn()).close()
            return server
        except psycopg2.OperationalError:
            if server.process.poll() is not None or time.monotonic() > deadline:
                detail = (folder / "server.log").read_text(errors="replace")[-2000:]
                server.stop()
                raise RuntimeError(f"the throw-away PostgreSQL server did not start: {detail}") from None
            time.sleep(0.2)
