"""Business validation on the sandbox's real services.

The validation workflow against the seeded primary, and the fingerprint held
against a real point-in-time restore: a drill copy recovered to a moment
before some transactions, explained exactly by those transactions, and
failing once the copy is tampered with.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta

import psycopg
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities.backups import RESTORE_MARKER
from activities.odoo import compare_with_fingerprint, take_fingerprint
from activities.postgres import copy_conninfo
from odoo_dr.models import DrillInput, DrillReport
from odoo_dr.validation import (
    Expectations,
    ValidationInput,
    ValidationReport,
    ValidationTarget,
)
from sandbox.control import archive_current_wal
from tests.conftest import Sandbox
from workflows.drill import RestoreDrillWorkflow
from workflows.validation import ValidateOdooWorkflow

# Site work committed after the restore point: each statement one transaction.
LATER_WORK = (
    "INSERT INTO account_analytic_line (name, date, amount, unit_amount, "
    "account_id, company_id, project_id) SELECT 'Rebar placing', current_date, "
    "-96, 2, account_id, company_id, project_id FROM account_analytic_line "
    "WHERE project_id IS NOT NULL ORDER BY id LIMIT 1",
    "UPDATE purchase_order SET priority = '1' WHERE id = (SELECT max(id) FROM "
    "purchase_order WHERE priority IS DISTINCT FROM '1')",
    "UPDATE account_move SET payment_reference = 'site office ' || id "
    "WHERE id = (SELECT max(id) FROM account_move WHERE state = 'posted' "
    "AND payment_reference IS DISTINCT FROM 'site office ' || id)",
)


def _database_uuid(conninfo: str) -> str:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'"
        ).fetchone()
    assert row is not None
    return str(row[0])


async def test_validation_workflow_finds_the_seeded_primary_whole(
    sandbox: Sandbox, seeded: str, client: Client, worker: Worker, task_queue: str
) -> None:
    report: ValidationReport = await client.execute_workflow(
        ValidateOdooWorkflow.run,
        ValidationInput(
            environment="sandbox",
            expected=Expectations(database_uuid=_database_uuid(seeded)),
            capture_fingerprint=True,
        ),
        id=f"test-validate-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )
    assert report.verdict != "fail", [r for r in report.results if r.blocking]
    assert report.odoo_version == "17.0"
    ran = {r.area for r in report.results if r.verdict != "skipped"}
    assert ran >= {"identity", "accounting", "payables", "payroll", "attachments"}
    probes = [r for r in report.results if r.area == "application"]
    assert probes and all(r.verdict == "skipped" for r in probes)
    assert report.fingerprint is not None
    assert report.fingerprint.database_uuid == _database_uuid(seeded)


async def _commit_time(conninfo: str) -> datetime:
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        row = await (await conn.execute("SELECT clock_timestamp()")).fetchone()
    assert row is not None
    value: datetime = row[0]
    return value


async def _copy_of(sandbox: Sandbox, handle: WorkflowHandle) -> ValidationTarget:
    """Wait until the drill holds its copy open; where the copy listens."""
    for _ in range(600):
        status = await handle.query(RestoreDrillWorkflow.status)
        if status.waiting_for:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"drill never reached its inspection window: {status}")
    folder = sandbox.env.drill.work_dir / f"drill-{handle.result_run_id}"
    marker = json.loads((folder / RESTORE_MARKER).read_text())
    return ValidationTarget(
        host=marker["host"],
        port=marker["port"],
        drill_id=f"drill-{handle.result_run_id}",
        label="copy",
    )


async def test_restore_to_an_earlier_point_is_explained_then_tampering_fails(
    sandbox: Sandbox, seeded: str, client: Client, worker: Worker, task_queue: str
) -> None:
    env = sandbox.env
    point = await _commit_time(seeded)
    await asyncio.sleep(1.0)
    with psycopg.connect(seeded, autocommit=True) as conn:
        for statement in LATER_WORK:
            conn.execute(statement)
    production = await take_fingerprint(env, ValidationTarget(label="production"))
    archive_current_wal(sandbox.layout.home)

    handle = await client.start_workflow(
        RestoreDrillWorkflow.run,
        DrillInput(
            environment="sandbox",
            requested_by="pytest",
            recovery_target_time=point,
            keep_copy_for=timedelta(hours=1),
        ),
        id=f"test-pitr-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )
    try:
        copy = await _copy_of(sandbox, handle)
        primary = ValidationTarget()
        # A restore to a time holds exactly the commits up to that time.
        explained = await compare_with_fingerprint(
            env, production, copy, primary, point
        )
        assert copy.drill_id and copy.host and copy.port
        as_drill = copy_conninfo(env, copy.drill_id, copy.host, copy.port)
        with psycopg.connect(as_drill, autocommit=True) as conn:
            conn.execute("UPDATE hr_payslip_line SET total = total + 1 WHERE id = 1")
        tampered = await compare_with_fingerprint(env, production, copy, primary, point)
    finally:
        await handle.cancel()
    assert explained.comparison is not None
    assert explained.comparison.direction == "target-older"
    assert explained.comparison.transactions_between == len(LATER_WORK)
    assert explained.result.verdict == "pass", explained.result
    assert tampered.result.verdict == "fail"
    assert tampered.result.examples[0].startswith("hr_payslip_line ids 0-")


async def test_drill_report_counts_the_transactions_a_restore_would_lose(
    sandbox: Sandbox, seeded: str, client: Client, worker: Worker, task_queue: str
) -> None:
    point = await _commit_time(seeded)
    await asyncio.sleep(1.0)
    with psycopg.connect(seeded, autocommit=True) as conn:
        for statement in LATER_WORK:
            conn.execute(statement)
    archive_current_wal(sandbox.layout.home)

    handle = await client.start_workflow(
        RestoreDrillWorkflow.run,
        DrillInput(
            environment="sandbox", requested_by="pytest", recovery_target_time=point
        ),
        id=f"test-drill-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )
    # Work committed while the drill runs, before production is fingerprinted:
    # it explains a difference but was not lost by a restore at the start.
    for _ in range(300):
        status = await handle.query(RestoreDrillWorkflow.status)
        if any(s.name == "restore base backup" for s in status.steps):
            break
        await asyncio.sleep(0.1)
    with psycopg.connect(seeded, autocommit=True) as conn:
        conn.execute(LATER_WORK[1])
    report: DrillReport = await handle.result()
    assert report.verdict == "pass", report.failure
    assert report.rpo_transactions == len(LATER_WORK)
    assert report.validation is not None
    comparison = report.validation.comparison
    assert (
        comparison is not None
        and comparison.transactions_between == len(LATER_WORK) + 1
    )
    assert report.validation.fingerprint is not None
    assert report.proven_at is not None and report.validated_at is not None
    assert report.proven_at > report.validated_at
    assert report.torn_down
