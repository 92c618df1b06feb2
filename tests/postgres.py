"""A throwaway PostgreSQL server for tests: initdb into a temp dir, start, hand out a URL.

Used by the store tests' `postgres_url` fixture; usable by any test suite::

    server = PostgresServer.start()      # raises PostgresUnavailable with the reason
    url = server.create_database("callflow_test")
    server.halt(); server.resume()       # an outage: stopped, then back on the same port
    server.stop()
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from psycopg import sql

START_TIMEOUT = 30.0
BIND_ATTEMPTS = 3


def unavailable(reason: str) -> NoReturn:
    """Skip the test for *reason*; under CI=true fail it instead, loudly."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and PostgreSQL could not be started: {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be installed, initialised or started; the message says why."""


def find_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb and postgres, or None."""
    candidates = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    usable = [c for c in candidates if (c / "postgres").exists()]
    return max(usable, key=lambda c: int(c.parent.name), default=None)


def ensure_installed() -> Path:
    """The PostgreSQL bin dir, installing the Debian package first if it is missing."""
    found = find_bin_dir()
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PostgresUnavailable(
            "initdb not found under /usr/lib/postgresql/*/bin and cannot apt-get"
        )
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")
    found = find_bin_dir()
    if found is None:
        raise PostgresUnavailable(
            "apt-get install postgresql succeeded but initdb is still missing"
        )
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _spawn(argv: list[str], directory: Path, user: str | None) -> subprocess.Popen[bytes]:
    with (directory / "postgres.log").open("ab") as log:
        return subprocess.Popen(argv, user=user, stdout=log, stderr=subprocess.STDOUT)


@dataclass
class PostgresServer:
    """A running postgres process owned by the test session."""

    process: subprocess.Popen[bytes]
    directory: Path
    port: int
    argv: list[str]
    user: str | None

    @classmethod
    def start(cls) -> PostgresServer:
        """initdb + start on a free port on 127.0.0.1; raises PostgresUnavailable."""
        bin_dir = ensure_installed()
        # Short path: the Unix socket path (dir + ".s.PGSQL.port") must fit in 107 bytes.
        directory = Path(tempfile.mkdtemp(prefix="cfpg", dir="/tmp"))
        user = None
        if os.geteuid() == 0:  # postgres refuses to run as root
            user = "postgres"
            shutil.chown(directory, user=user)
        data = directory / "data"
        init = subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            user=user,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if init.returncode != 0:
            shutil.rmtree(directory, ignore_errors=True)
            raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()[-500:]}")
        for attempt in range(1, BIND_ATTEMPTS + 1):
            # the port is free when picked, but another process (a parallel test worker)
            # may bind it before postgres does: then pick another
            port = _free_port()
            argv = [
                str(bin_dir / "postgres"),
                "-D",
                str(data),
                "-k",
                str(directory),
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
            server = cls(_spawn(argv, directory, user), directory, port, argv, user)
            try:
                server._wait_ready()
            except PostgresUnavailable as exc:
                if attempt < BIND_ATTEMPTS and "Address already in use" in str(exc):
                    continue
                server.stop()
                raise
            return server
        raise AssertionError("unreachable")  # the last attempt returned or raised

    def halt(self) -> None:
        """Stop the server (fast shutdown) but keep its data: a database outage."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)

    def resume(self) -> None:
        """Start the halted server again, same data, same port."""
        self.process = _spawn(self.argv, self.directory, self.user)
        try:
            self._wait_ready()
        except PostgresUnavailable:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.directory / "postgres.log").read_text(errors="replace")[-800:]
                raise PostgresUnavailable(f"postgres exited with {self.process.returncode}: {tail}")
            try:
                with psycopg.connect(self._dsn("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise PostgresUnavailable(f"postgres did not accept connections within {START_TIMEOUT}s")

    def _dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def url(self, database: str) -> str:
        """SQLAlchemy URL of *database* on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """CREATE DATABASE *name* (optionally copied from *template*); returns its URL."""
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            conn.execute(statement)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE *name*, disconnecting anyone still in it."""
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            conn.execute(statement)

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then remove the data directory."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)
