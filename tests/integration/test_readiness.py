"""Readiness checks on the sandbox's real archive, and ``odoo-dr readiness``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.backups import BackupActivities
from activities.readiness import ReadinessActivities, check_environment
from odoo_dr.inventory import Inventory, Region
from odoo_dr.readiness import (
    ARCHIVE_LAG,
    BACKUP_AGE,
    OBJECT_LOCK,
    WAL_CONTINUITY,
    ReadinessReport,
)
from sandbox import objectstore
from sandbox.layout import BACKUP_PREFIX, BUCKET, SERVER_NAME
from tests.archive import archive_after_a_write, wal_keys
from tests.conftest import Sandbox

pytestmark = pytest.mark.integration

CLI = [str(Path(sys.executable).parent / "odoo-dr")]
CHECKS = [BACKUP_AGE, WAL_CONTINUITY, ARCHIVE_LAG, OBJECT_LOCK]


@pytest.fixture(scope="module")
def s3(sandbox: Sandbox) -> Any:
    return objectstore.s3_client(sandbox.layout, sandbox.state.ports.s3)


@pytest.fixture(scope="module")
def retained_backup(sandbox: Sandbox, seeded: str, s3: Any) -> str:
    """The newest backup's backup.info, retained by the bucket's default rule."""
    done = [
        b
        for b in objectstore.list_backups(sandbox.layout, sandbox.state.ports.s3)
        if b["status"] == "DONE"
    ]
    newest = max(done, key=lambda b: b["end_time_iso"])
    key = f"{BACKUP_PREFIX}/{SERVER_NAME}/base/{newest['backup_id']}/backup.info"
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head.get("ObjectLockMode") == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC)
    return key


async def check(inventory: Inventory) -> ReadinessReport:
    activities = ReadinessActivities(inventory)
    return await ActivityEnvironment().run(activities.check_readiness, "sandbox")


def cli(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    command = [*CLI, "readiness", *args, "--inventory", str(sandbox.layout.inventory)]
    env = dict(os.environ, ODOO_DR_TEMPORAL_ADDRESS=sandbox.address)
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


async def test_healthy_sandbox_is_ready(sandbox: Sandbox, retained_backup: str) -> None:
    report = await check(sandbox.inventory)
    assert report.ready, [c.detail for c in report.failed()]
    assert [c.name for c in report.checks] == CHECKS
    assert report.objectives_at_risk == []
    assert "moto" in report.check(OBJECT_LOCK).detail


async def test_lost_wal_segment_fails_continuity_naming_it(
    sandbox: Sandbox, retained_backup: str, s3: Any
) -> None:
    for _ in range(3):
        archive_after_a_write(sandbox)
    figures = (await check(sandbox.inventory)).check(WAL_CONTINUITY).figures
    first, newest = str(figures["first_segment"]), str(figures["newest_segment"])
    keys = wal_keys(s3)
    between = sorted(name for name in keys if first < name < newest)
    assert between, f"no segment archived between {first} and {newest}"
    lost = between[len(between) // 2]
    kept = s3.get_object(Bucket=BUCKET, Key=keys[lost])
    body = kept["Body"].read()
    s3.delete_object(Bucket=BUCKET, Key=keys[lost])
    try:
        report = await check(sandbox.inventory)
    finally:
        # Later tests restore from this archive: the segment goes back.
        s3.put_object(
            Bucket=BUCKET, Key=keys[lost], Body=body, Metadata=kept["Metadata"]
        )
    continuity = report.check(WAL_CONTINUITY)
    assert not report.ready and not continuity.ok
    assert f"1 of {figures['expected_segments']} segments" in continuity.detail
    assert continuity.detail.endswith(f"are missing: {lost}")
    assert any(
        s.startswith("tier payroll-payables: RPO 5 min cannot be met")
        for s in report.objectives_at_risk
    )
    assert (await check(sandbox.inventory)).check(WAL_CONTINUITY).ok
    assert s3.get_object(Bucket=BUCKET, Key=keys[lost])["Body"].read() == body


async def test_primary_that_does_not_answer_fails_only_the_archive_check(
    sandbox: Sandbox, retained_backup: str
) -> None:
    env = sandbox.env
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    gone = env.primary().model_copy(update={"port": closed_port})
    regions = {**env.regions, env.primary_region: Region(postgres=[gone])}
    moved = Inventory(
        environments={"sandbox": env.model_copy(update={"regions": regions})}
    )
    report = await check_environment(moved, "sandbox")
    assert [c.name for c in report.failed()] == [ARCHIVE_LAG]
    assert report.check(ARCHIVE_LAG).detail.startswith(
        f"cannot read pg_stat_archiver on {gone.name}: "
    )


def test_cli_prints_a_table_and_exits_0_when_ready(
    sandbox: Sandbox, retained_backup: str
) -> None:
    result = cli(sandbox, "--env", "sandbox")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("readiness of sandbox at ")
    assert lines[0].endswith(": READY")
    for name in CHECKS:
        assert any(line.startswith(f"  {name} ") and " ok " in line for line in lines)
    assert "FAILED" not in result.stdout


def test_cli_prints_the_report_as_json(sandbox: Sandbox, retained_backup: str) -> None:
    result = cli(sandbox, "--env", "sandbox", "--json")
    assert result.returncode == 0, result.stderr
    assert ReadinessReport.model_validate_json(result.stdout).ready


def test_cli_refuses_an_unknown_environment_with_one_message(
    sandbox: Sandbox,
) -> None:
    result = cli(sandbox, "--env", "nowhere")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "odoo-dr: unknown environment 'nowhere' (the inventory has: sandbox)"
    ]


async def test_every_check_feeds_the_metrics(
    sandbox: Sandbox, retained_backup: str
) -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    activities = ReadinessActivities(sandbox.inventory, meter=meter)
    await ActivityEnvironment().run(activities.check_readiness, "sandbox")

    points = {
        (metric.name, point.attributes.get("check"), point.attributes.get("figure")): (
            point.value
        )
        for rm in reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        for point in metric.data.data_points
    }
    for name in CHECKS:
        assert points[("odoo_dr.readiness.ok", name, None)] == 1
    age = points[("odoo_dr.readiness.figure", BACKUP_AGE, "age_seconds")]
    assert 0 <= age < 3600


async def test_readiness_schedule_is_created_and_deleted(
    sandbox: Sandbox, client: Client
) -> None:
    created = cli(sandbox, "--env", "sandbox", "--schedule-every", "15m")
    assert created.returncode == 0, created.stderr
    assert "readiness of sandbox every 15 min" in created.stdout
    described = await client.get_schedule_handle("readiness-sandbox").describe()
    [interval] = described.schedule.spec.intervals
    assert interval.every == timedelta(minutes=15)

    deleted = cli(sandbox, "--env", "sandbox", "--unschedule")
    assert deleted.returncode == 0, deleted.stderr
    again = cli(sandbox, "--env", "sandbox", "--unschedule")
    assert again.returncode == 2 and "no readiness schedule" in again.stderr


async def test_newest_backup_handed_over_is_judged_as_when_listed(
    sandbox: Sandbox, retained_backup: str
) -> None:
    listed = await check(sandbox.inventory)
    newest = await BackupActivities(sandbox.inventory).select_backup("sandbox", None)

    handed = await check_environment(sandbox.inventory, "sandbox", newest=newest)

    assert [(c.name, c.ok) for c in handed.checks] == [
        (c.name, c.ok) for c in listed.checks
    ]
    assert newest.backup_id in handed.check(BACKUP_AGE).detail
