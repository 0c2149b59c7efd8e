"""A throwaway PostgreSQL server on 127.0.0.1 for the tests and `bench store`: Debian's server
binaries (`make test` installs the `postgresql` package), a data directory under a temp folder,
durability off (nothing here outlives the run), stopped with its folder on exit.

initdb and postgres refuse to run as root, so as root they run as the `postgres` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lib.bench.harness import end_process, free_port

USER = "avatarlab"


class NoPostgres(RuntimeError):
    """The server binaries are missing: the message says what to install."""


def _bin_dir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if versions:
        return Path(versions[-1]).parent
    raise NoPostgres(
        "PostgreSQL's server binaries were not found: install Debian's `postgresql` package "
        "(`make test` does), or point AVATARLAB_TEST_PG at a server you run"
    )


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class PgServer:
    port: int
    proc: subprocess.Popen[bytes]
    folder: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database on this server: its URL."""
        import psycopg

        name = f"lab_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@contextlib.contextmanager
def pg_server() -> Iterator[PgServer]:
    """Start a server (initdb takes a second or two); yields it; stops it and removes its data."""
    bins = _bin_dir()
    folder = Path(tempfile.mkdtemp(prefix="avatarlab-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    log = open(folder / "initdb.log", "wb")  # noqa: SIM115 - kept for the error message
    init = subprocess.run(
        _as_server_user(
            [str(bins / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "--no-sync"]
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
        check=False,
    )
    log.close()
    if init.returncode != 0:
        text = (folder / "initdb.log").read_text(errors="replace")[-2000:]
        shutil.rmtree(folder, ignore_errors=True)
        raise NoPostgres(f"initdb failed:\n{text}")
    port = free_port()
    settings = (
        "fsync=off",
        "synchronous_commit=off",
        "full_page_writes=off",
        "max_connections=200",
    )
    cmd = [str(bins / "postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1"]
    cmd += ["-k", str(folder)]
    for s in settings:
        cmd += ["-c", s]
    server_log = open(folder / "server.log", "wb")  # noqa: SIM115 - the server writes it
    proc = subprocess.Popen(_as_server_user(cmd), stdout=server_log, stderr=subprocess.STDOUT)
    server = PgServer(port, proc, folder)
    try:
        _wait_ready(server)
        yield server
    finally:
        end_process(proc, 15)
        server_log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_ready(server: PgServer, timeout: float = 30) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        if server.proc.poll() is not None:
            text = (server.folder / "server.log").read_text(errors="replace")[-2000:]
            raise NoPostgres(f"postgres exited:\n{text}")
        try:
            with psycopg.connect(server.url(), connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
