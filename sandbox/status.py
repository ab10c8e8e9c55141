"""``odoo-dr sandbox status``: the health of each part of the sandbox.

Each check returns a (name, healthy, detail) record, so that the CLI prints
them and tests assert on them.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis

from odoo_dr.errors import OdooDrError, SandboxError
from sandbox import objectstore, temporal
from sandbox.layout import Layout, SandboxState
from sandbox.postgres import superuser_conninfo
from sandbox.processes import LOOPBACK, is_same_process


@dataclass(frozen=True)
class Check:
    """One part's health, and the figures behind it."""

    name: str
    healthy: bool
    detail: str


def sandbox_status(home: Path) -> list[Check]:
    """Inspect every part of the sandbox in ``home``.

    Raises:
        SandboxError: nothing was ever brought up there.
    """
    layout = Layout(home)
    state = layout.read_state()
    if state is None:
        raise SandboxError(f"no sandbox in {layout.home}: run 'odoo-dr sandbox up'")
    checks = [_process_check(state, name) for name in _PROCESS_NAMES]
    checks.append(_replication_check(layout, state))
    checks.append(_archive_check(layout, state))
    checks.append(_backup_check(layout, state))
    checks.append(_redis_check(layout, state))
    return checks


_PROCESS_NAMES = ("temporal", "s3", "pg_primary", "pg_standby", "redis")


def _process_check(state: SandboxState, name: str) -> Check:
    record = state.processes.get(name)
    port = getattr(state.ports, name)
    if record is None or not is_same_process(record.pid, record.started):
        return Check(name, False, f"not running (port {port})")
    listening = _accepts(port)
    detail = f"pid {record.pid}, port {port}" + ("" if listening else ", not listening")
    if name == "temporal":
        detail += f", UI {temporal.ui_url(state.ports)}"
    return Check(name, listening, detail)


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex((LOOPBACK, port)) == 0


def _replication_check(layout: Layout, state: SandboxState) -> Check:
    try:
        with psycopg.connect(
            superuser_conninfo(layout, state.ports.pg_primary), connect_timeout=3
        ) as conn:
            row = conn.execute(
                "SELECT state, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)"
                "::bigint FROM pg_stat_replication WHERE application_name = %s",
                ("region-b",),
            ).fetchone()
    except (psycopg.Error, OSError) as exc:
        return Check("replication", False, f"primary unreachable: {_first_line(exc)}")
    if row is None:
        return Check("replication", False, "no standby connected to the primary")
    repl_state, lag = row
    return Check(
        "replication",
        repl_state == "streaming",
        f"standby {repl_state}, replay lag {lag} bytes",
    )


def _archive_check(layout: Layout, state: SandboxState) -> Check:
    try:
        newest = objectstore.newest_wal_object(layout, state.ports.s3)
    except Exception as exc:  # boto3 raises many unrelated types
        return Check("wal_archive", False, f"bucket unreadable: {_first_line(exc)}")
    if newest is None:
        return Check("wal_archive", False, "no WAL segment archived yet")
    name, when = newest
    age = (datetime.now(UTC) - when).total_seconds()
    return Check("wal_archive", True, f"last segment {name}, {age:.0f} s ago")


def _backup_check(layout: Layout, state: SandboxState) -> Check:
    try:
        backups = objectstore.list_backups(layout, state.ports.s3)
    except OdooDrError as exc:
        return Check("base_backup", False, _first_line(exc))
    done = [b for b in backups if b.get("status") == "DONE"]
    if not done:
        return Check("base_backup", False, "no completed base backup")
    newest = done[-1]
    return Check(
        "base_backup",
        True,
        f"newest {newest['backup_id']} ended {newest.get('end_time')}, "
        f"{len(done)} in all",
    )


def _redis_check(layout: Layout, state: SandboxState) -> Check:
    password = layout.secret("redis-password").read_text().strip()
    try:
        client = redis.Redis(
            host=LOOPBACK, port=state.ports.redis, password=password, socket_timeout=2
        )
        client.ping()
        aof = client.config_get("appendonly").get("appendonly")
    except redis.RedisError as exc:
        return Check("redis_persistence", False, f"unreachable: {_first_line(exc)}")
    return Check("redis_persistence", aof == "yes", f"appendonly {aof}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
