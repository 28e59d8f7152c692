"""A throwaway PostgreSQL cluster for tests and benchmarks: Debian's ``postgresql``
binaries, run as a non-root user in a temporary folder, on a free loopback port. Each user
of it gets a schema of its own (:meth:`PgCluster.fresh_url`).

It is made for throwaway data: ``fsync`` is off (see :class:`PgCluster`). A district's own
database is set up as docs/operations.md says.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

USER = "anonballot"


class NoPostgres(RuntimeError):
    """PostgreSQL's binaries are not installed (``make system-packages`` installs them)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PgCluster:
    """One cluster: ``initdb``, ``pg_ctl start`` and, at the end, ``stop`` and removal."""

    def __init__(self, *, durable: bool = False) -> None:
        """``durable``: fsync as a real database does (a benchmark of durable commits);
        otherwise commits wait for the log's write only (tests kill the server, not the
        machine)."""
        bindir = _binaries()
        if bindir is None:
            raise NoPostgres("PostgreSQL is not installed (make system-packages installs it)")
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="anonballot-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        # initdb refuses to run as root: the cluster belongs to the "postgres" user then
        self.owner = "postgres" if os.geteuid() == 0 else None
        if self.owner is not None:
            entry = pwd.getpwnam(self.owner)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--locale=C.UTF-8")  # fmt: skip
        options = " ".join([
            "-c listen_addresses=127.0.0.1",
            f"-c port={self.port}",
            f"-c unix_socket_directories={self.folder}",
            "-c max_connections=200",
            "-c track_commit_timestamp=off",
            *([] if durable else ["-c fsync=off", "-c full_page_writes=off"]),
        ])  # fmt: skip
        self._run("pg_ctl", "-D", str(self.data), "-o", options,
                  "-l", str(self.folder / "log"), "-w", "-t", "60", "start")  # fmt: skip
        self.url = f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self.owner is not None:
            command = ["runuser", "-u", self.owner, "--", *command]
        done = subprocess.run(  # noqa: S603 (the cluster's own binaries)
            command, capture_output=True, text=True, cwd=self.folder, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}")

    def fresh_url(self) -> str:
        """The URL of a new, empty schema of the cluster (its tables are a test's alone)."""
        import psycopg

        schema = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        return f"{self.url}?options={quote(f'-csearch_path={schema}')}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
