"""A throwaway PostgreSQL cluster for the tests: Debian's ``postgresql`` binaries, run as a
non-root user in a temporary folder, on a free loopback port; started once per test process
and removed at its end. Each test gets a schema of its own (:meth:`PgCluster.fresh_url`).

Without the binaries the PostgreSQL tests are skipped, except under ``CI=true``, where they
fail: ``make test`` installs them (the ``system-packages`` target).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest
from _live import free_port

USER = "anonballot"


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PgCluster:
    """One cluster: ``initdb``, ``pg_ctl start`` and, at the end, ``stop`` and removal."""

    def __init__(self) -> None:
        bindir = _binaries()
        if bindir is None:
            message = "PostgreSQL is not installed (make system-packages installs it)"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
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
            # a throwaway cluster on a shared test machine: commits wait for the log's
            # write, not its fsync (what is tested is the server, killed; not the disk)
            "-c fsync=off",
            "-c full_page_writes=off",
            "-c track_commit_timestamp=off",
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
