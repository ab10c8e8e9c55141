"""The sandbox's PostgreSQL pair: a region A primary, a region B standby.

The primary archives WAL to the object store; the standby streams from it
through a replication slot. Both run from the system's PostgreSQL binaries
on loopback ports, as the ``postgres`` account when the sandbox runs as root.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import psycopg

from odoo_dr.errors import MissingBinaryError, SandboxError
from sandbox.layout import DATABASE, SLOT, Layout
from sandbox.processes import LOOPBACK, chown_to, run

logger = logging.getLogger(__name__)

PG_TOOLS = ("initdb", "pg_ctl", "pg_basebackup", "postgres")
MISSING_PG_HINT = (
    "install PostgreSQL 15 server binaries (Debian: apt-get install postgresql-15) "
    "or pass --pg-bindir"
)


def find_pg_bindir(configured: Path | None = None) -> Path:
    """Find the PostgreSQL server binaries: the configured folder or pg_config's.

    Raises:
        MissingBinaryError: a needed tool is missing there.
    """
    bindir = configured
    if bindir is None:
        try:
            out = subprocess.run(
                ["pg_config", "--bindir"], capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError):
            raise MissingBinaryError(
                f"PostgreSQL not found (no pg_config on PATH); {MISSING_PG_HINT}"
            ) from None
        bindir = Path(out.stdout.strip())
    missing = [tool for tool in PG_TOOLS if not (bindir / tool).exists()]
    if missing:
        raise MissingBinaryError(
            f"PostgreSQL server binaries missing in {bindir}: "
            f"{', '.join(missing)}; {MISSING_PG_HINT}"
        )
    return bindir


def primary_settings(layout: Layout, port: int) -> str:
    """postgresql.conf lines of the primary."""
    return f"""
# odoo-dr sandbox: region A primary
listen_addresses = '{LOOPBACK}'
port = {port}
unix_socket_directories = '{layout.run}'
wal_level = replica
wal_log_hints = on
track_commit_timestamp = on
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
archive_mode = on
archive_command = '{layout.bin / "archive-wal"} %p'
archive_timeout = 60
shared_buffers = 128MB
max_connections = 60
log_line_prefix = '%m [%p] %q%u@%d '
"""


def init_primary(layout: Layout, bindir: Path, port: int, user: str | None) -> None:
    """Create the primary's cluster with a superuser password from the secrets."""
    layout.pg.mkdir(parents=True, exist_ok=True)
    chown_to(layout.pg, user)
    run(
        [
            bindir / "initdb",
            "-D",
            layout.primary_data,
            "-U",
            "postgres",
            "--auth-local=peer" if user else "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={layout.secret('postgres-password')}",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        ],
        user=user,
        what="initdb of the region A primary",
    )
    conf = layout.primary_data / "postgresql.conf"
    with open(conf, "a", encoding="utf-8") as handle:
        handle.write(primary_settings(layout, port))


def start_cluster(
    bindir: Path, data_dir: Path, log_file: Path, user: str | None, what: str
) -> int:
    """Start a cluster with pg_ctl and return the postmaster's pid."""
    run(
        [bindir / "pg_ctl", "start", "-w", "-t", "60", "-D", data_dir, "-l", log_file],
        user=user,
        timeout=90,
        what=f"start of {what}",
    )
    pid = postmaster_pid(data_dir)
    if pid is None:
        raise SandboxError(f"{what} started but wrote no postmaster.pid")
    return pid


def postmaster_pid(data_dir: Path) -> int | None:
    """The pid in ``postmaster.pid``, or None when the cluster is down."""
    try:
        first = (data_dir / "postmaster.pid").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return int(first)


def superuser_conninfo(layout: Layout, port: int, dbname: str = "postgres") -> str:
    """A libpq conninfo for the sandbox superuser, password from its file."""
    password = layout.secret("postgres-password").read_text().strip()
    return psycopg.conninfo.make_conninfo(
        host=LOOPBACK, port=port, user="postgres", password=password, dbname=dbname
    )


def create_odoo_roles(layout: Layout, port: int) -> None:
    """Create the Odoo application role and database, and the replication role."""
    odoo_password = layout.secret("odoo-password").read_text().strip()
    repl_password = layout.secret("replication-password").read_text().strip()
    with psycopg.connect(superuser_conninfo(layout, port), autocommit=True) as conn:
        for role, password, options in (
            ("odoo", odoo_password, "LOGIN CREATEDB"),
            ("replicator", repl_password, "LOGIN REPLICATION"),
        ):
            exists = conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)
            ).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                psycopg.sql.SQL("{} ROLE {} " + options + " PASSWORD {}").format(
                    psycopg.sql.SQL(verb),
                    psycopg.sql.Identifier(role),
                    psycopg.sql.Literal(password),
                )
            )
        has_db = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
        ).fetchone()
        if not has_db:
            conn.execute(f'CREATE DATABASE "{DATABASE}" OWNER odoo')


def make_standby(
    layout: Layout, bindir: Path, primary_port: int, port: int, user: str | None
) -> None:
    """Clone the primary into region B as a streaming standby with a slot."""
    run(
        [
            bindir / "pg_basebackup",
            "-h",
            LOOPBACK,
            "-p",
            str(primary_port),
            "-U",
            "replicator",
            "-D",
            layout.standby_data,
            "-R",
            "-X",
            "stream",
            "-C",
            "-S",
            SLOT,
            "-c",
            "fast",
        ],
        user=user,
        env={"PGPASSFILE": str(layout.secret("pgpass"))},
        timeout=300,
        what="pg_basebackup of the region B standby",
    )
    auto_conf = layout.standby_data / "postgresql.auto.conf"
    with open(auto_conf, "a", encoding="utf-8") as handle:
        handle.write(f"port = {port}\ncluster_name = 'region-b'\n")


def stop_cluster(bindir: Path, data_dir: Path, user: str | None, what: str) -> None:
    """Stop a cluster with a fast shutdown (sessions ended, no data lost)."""
    run(
        [bindir / "pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", data_dir],
        user=user,
        timeout=90,
        what=f"stop of {what}",
    )
