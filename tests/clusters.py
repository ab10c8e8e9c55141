"""A throwaway PostgreSQL 15 cluster for the dataset and load tests.

The cluster lives in a temporary folder under /tmp and listens on a free
loopback port. PostgreSQL refuses to run as root, so when the tests run as
root (as in CI) initdb and pg_ctl run as the ``postgres`` user.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

_SERVER_USER = "postgres"


def _bindir() -> Path:
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(Path(out.stdout.strip()))
    candidates.append(Path("/usr/lib/postgresql/15/bin"))
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """A running test cluster and how to stop and start it again."""

    bindir: Path
    data_dir: Path
    port: int
    _databases: Iterator[int] = itertools.count(1)

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={_SERVER_USER} dbname={dbname}"

    def run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", _SERVER_USER, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        log = self.data_dir.parent / "server.log"
        self.run("pg_ctl", "start", "-w", "-D", str(self.data_dir), "-l", str(log))

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "stop", "-w", "-m", mode, "-D", str(self.data_dir))

    def create_database(self) -> str:
        name = f"odoo_test_{next(self._databases)}"
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.conninfo(name)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="odoo-dr-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, user=_SERVER_USER)
    cluster = Cluster(bindir, root / "data", _free_port())
    cluster.run(
        "initdb",
        "-D",
        str(cluster.data_dir),
        "-U",
        _SERVER_USER,
        "--auth=trust",
        "--no-sync",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
    )
    settings = {
        "port": str(cluster.port),
        "listen_addresses": "'127.0.0.1'",
        "unix_socket_directories": f"'{root}'",
        "fsync": "off",
        "full_page_writes": "off",
        "track_commit_timestamp": "on",
        "max_connections": "40",
    }
    with (cluster.data_dir / "postgresql.conf").open("a") as conf:
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
    cluster.start()
    try:
        yield cluster
    finally:
        try:
            cluster.stop("immediate")
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def database(pg_cluster: Cluster) -> str:
    """A fresh, empty database on the test cluster; its conninfo."""
    return pg_cluster.create_database()
