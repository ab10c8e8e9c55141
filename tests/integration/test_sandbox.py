"""The sandbox's real services do what runbooks rely on."""

from __future__ import annotations

import time

import psycopg
import redis

from sandbox import objectstore
from sandbox.control import UpOptions, up
from sandbox.postgres import superuser_conninfo
from sandbox.processes import LOOPBACK, stop_process
from sandbox.status import sandbox_status
from tests.conftest import Sandbox


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_status_reports_every_part_healthy(sandbox: Sandbox):
    checks = {c.name: c for c in sandbox_status(sandbox.layout.home)}
    assert set(checks) >= {
        "temporal",
        "s3",
        "pg_primary",
        "pg_standby",
        "redis",
        "replication",
        "wal_archive",
        "base_backup",
        "redis_persistence",
    }
    unhealthy = [c for c in checks.values() if not c.healthy]
    assert not unhealthy, unhealthy
    assert "replay lag" in checks["replication"].detail


def test_standby_streams_a_committed_row_and_lag_is_measured(sandbox: Sandbox):
    ports = sandbox.state.ports
    marker = f"stream-{time.time_ns()}"
    with psycopg.connect(superuser_conninfo(sandbox.layout, ports.pg_primary)) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS stream_probe (marker text)")
        conn.execute("INSERT INTO stream_probe VALUES (%s)", (marker,))
        conn.commit()
        lsn = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
    standby = superuser_conninfo(sandbox.layout, ports.pg_standby)

    def replayed() -> bool:
        with psycopg.connect(standby) as conn:
            in_recovery, caught_up = conn.execute(
                "SELECT pg_is_in_recovery(),"
                " pg_wal_lsn_diff(pg_last_wal_replay_lsn(), %s) >= 0",
                (lsn,),
            ).fetchone()
        assert in_recovery, "the standby must still be in recovery"
        return bool(caught_up)

    wait_until(replayed, 20, "the standby to replay the commit's LSN")
    with psycopg.connect(standby) as conn:
        found = conn.execute(
            "SELECT count(*) FROM stream_probe WHERE marker = %s", (marker,)
        ).fetchone()[0]
    assert found == 1
    with psycopg.connect(superuser_conninfo(sandbox.layout, ports.pg_primary)) as conn:
        lag = conn.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)"
            " FROM pg_stat_replication WHERE application_name = 'region-b'"
        ).fetchone()[0]
    assert lag is not None and lag >= 0


def test_switched_wal_segment_arrives_in_the_bucket(sandbox: Sandbox):
    ports = sandbox.state.ports
    with psycopg.connect(
        superuser_conninfo(sandbox.layout, ports.pg_primary), autocommit=True
    ) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS archive_probe (n int)")
        conn.execute("INSERT INTO archive_probe VALUES (1)")
        segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]

    def archived() -> bool:
        newest = objectstore.newest_wal_object(sandbox.layout, ports.s3)
        return newest is not None and newest[0][:24] >= segment

    wait_until(archived, 30, f"segment {segment} in the bucket")


def test_a_base_backup_is_listed(sandbox: Sandbox):
    backups = objectstore.list_backups(sandbox.layout, sandbox.state.ports.s3)
    assert any(b["status"] == "DONE" for b in backups)


def test_redis_keeps_data_across_a_restart(sandbox: Sandbox):
    password = sandbox.layout.secret("redis-password").read_text().strip()
    port = sandbox.state.ports.redis
    client = redis.Redis(host=LOOPBACK, port=port, password=password)
    client.set("odoo-dr:probe", "kept")
    record = sandbox.state.processes["redis"]
    client.close()
    # SIGTERM makes Redis flush its AOF; the restarted server must load it.
    assert stop_process(record.pid, record.started, "redis")
    state = up(UpOptions(home=sandbox.layout.home), progress=lambda _m: None)
    sandbox.state = state
    again = redis.Redis(host=LOOPBACK, port=port, password=password)
    assert again.get("odoo-dr:probe") == b"kept"
    assert state.processes["redis"].pid != record.pid


def test_second_up_changes_nothing_that_runs(sandbox: Sandbox):
    before = {k: v.pid for k, v in sandbox.layout.read_state().processes.items()}
    state = up(UpOptions(home=sandbox.layout.home), progress=lambda _m: None)
    assert {k: v.pid for k, v in state.processes.items()} == before
