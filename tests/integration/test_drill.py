"""The restore drill, end to end on the sandbox's real services."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer, Worker

from activities.backups import RESTORE_MARKER
from activities.postgres import copy_conninfo, node_conninfo
from odoo_dr.models import DrillInput, DrillReport
from sandbox.control import archive_current_wal
from sandbox.load import read_ledger, run_load
from tests.conftest import Sandbox
from workflows.drill import ODOO_TABLES, RestoreDrillWorkflow


def primary_counts(conninfo: str) -> dict[str, int]:
    with psycopg.connect(conninfo) as conn:
        return {
            table: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()[0]
            for table in ODOO_TABLES
        }


async def run_drill(
    client: Client,
    task_queue: str,
    *,
    workflow_id: str | None = None,
    environment: str = "sandbox",
    **options,
) -> DrillReport:
    return await client.execute_workflow(
        RestoreDrillWorkflow.run,
        DrillInput(environment=environment, requested_by="pytest", **options),
        id=workflow_id or f"test-drill-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )


async def drill_history(client: Client, task_queue: str) -> WorkflowHistory:
    """Run a drill of the sandbox and return its recorded history."""
    workflow_id = f"test-drill-{uuid.uuid4().hex[:8]}"
    await run_drill(client, task_queue, workflow_id=workflow_id)
    return await client.get_workflow_handle(workflow_id).fetch_history()


def drill_folders(sandbox: Sandbox) -> list[Path]:
    return list(sandbox.env.drill.work_dir.iterdir())


async def test_drill_restores_every_odoo_table_with_production_counts(
    sandbox: Sandbox, seeded: str, client: Client, worker: Worker, task_queue: str
):
    expected = primary_counts(seeded)
    report = await run_drill(client, task_queue)
    assert report.verdict == "pass", report.failure
    assert {t.table: t.rows for t in report.tables} == expected
    assert report.rto_seconds is not None and report.rto_seconds > 0
    assert report.torn_down and drill_folders(sandbox) == []


async def test_drill_replays_archived_wal_written_after_the_backup(
    sandbox: Sandbox, seeded: str, client: Client, worker: Worker, task_queue: str
):
    ledger = sandbox.layout.home / f"ledger-{uuid.uuid4().hex[:6]}.jsonl"
    summary = run_load(seeded, rate=20, duration=3, ledger=ledger, seed=3)
    assert summary.commits > 0
    # Close the segment holding the load's commits, as archive_timeout would,
    # but take no new base backup: the drill must replay the WAL.
    archive_current_wal(sandbox.layout.home)
    expected = primary_counts(seeded)

    report = await run_drill(client, task_queue)

    assert report.verdict == "pass", report.failure
    assert {t.table: t.rows for t in report.tables} == expected
    newest_load_commit = max(e.commit_time for e in read_ledger(ledger))
    assert report.recovered is not None and report.recovered.newest_commit is not None
    assert report.recovered.newest_commit >= newest_load_commit
    assert report.primary is not None and report.primary.newest_commit is not None
    if report.primary.newest_commit <= newest_load_commit:
        assert report.rpo_seconds == 0.0
    else:
        # A background commit (autovacuum's ANALYZE) after the last archived
        # segment: production was that much ahead of anything archived.
        behind = report.primary.newest_commit - report.recovered.newest_commit
        assert report.rpo_seconds == pytest.approx(behind.total_seconds())
    restore = next(s for s in report.steps if s.name == "restore base backup")
    fetched = re.search(r"(\d+) archived WAL files fetched ahead", restore.detail or "")
    assert fetched is not None and int(fetched.group(1)) > 0, restore.detail


async def test_copy_is_neutralized_and_shut_to_production_roles_before_validation(
    sandbox: Sandbox, seeded: str, client: Client, worker: Worker, task_queue: str
):
    with psycopg.connect(seeded, autocommit=True) as conn:
        on_production = {
            "crons": conn.execute(
                "SELECT count(*) FROM ir_cron WHERE active"
            ).fetchone()[0],
            "mail": conn.execute(
                "SELECT count(*) FROM ir_mail_server WHERE active"
            ).fetchone()[0],
        }
    assert on_production["crons"] > 0 and on_production["mail"] > 0
    handle = await client.start_workflow(
        RestoreDrillWorkflow.run,
        DrillInput(environment="sandbox", keep_copy_for=timedelta(hours=1)),
        id=f"test-drill-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )
    try:
        await _until_inspection(handle)
        drill_id = f"drill-{handle.result_run_id}"
        marker = json.loads(
            (sandbox.env.drill.work_dir / drill_id / RESTORE_MARKER).read_text()
        )
        host, port = marker["host"], marker["port"]
        env = sandbox.env
        # Production's own superuser (and so Odoo's user) is not let in.
        with pytest.raises(psycopg.OperationalError, match="no pg_hba.conf entry"):
            psycopg.connect(
                node_conninfo(env.primary(), env.odoo.database, host=host, port=port)
            )
        with psycopg.connect(copy_conninfo(env, drill_id, host, port)) as conn:
            on_copy = {
                "crons": conn.execute(
                    "SELECT count(*) FROM ir_cron WHERE active"
                ).fetchone()[0],
                "mail": conn.execute(
                    "SELECT count(*) FROM ir_mail_server WHERE active"
                ).fetchone()[0],
                "payment": conn.execute(
                    "SELECT count(*) FROM payment_provider WHERE state <> 'disabled'"
                ).fetchone()[0],
            }
    finally:
        await handle.cancel()
    report: DrillReport = await handle.result()

    assert on_copy == {"crons": 0, "mail": 0, "payment": 0}
    assert report.neutralization is not None
    assert report.neutralization.mail_servers_disabled == on_production["mail"]
    steps = {s.name: s for s in report.steps}
    isolated, validated = (
        steps["neutralize and isolate copy"],
        steps["validate business data"],
    )
    assert isolated.ended_at is not None and isolated.ended_at <= validated.started_at
    assert report.verdict == "aborted" and report.torn_down


async def _until_inspection(handle) -> None:
    for _ in range(600):
        status = await handle.query(RestoreDrillWorkflow.status)
        if status.waiting_for:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the drill never held its copy open")


async def test_unknown_backup_fails_the_drill_with_its_reason_and_cleans_up(
    sandbox: Sandbox, seeded: str, client: Client, worker: Worker, task_queue: str
):
    report = await run_drill(client, task_queue, backup_id="20000101T000000")
    assert report.verdict == "fail"
    assert report.failure is not None and "BackupNotFound" in report.failure
    assert report.torn_down and drill_folders(sandbox) == []


async def test_recorded_drill_history_replays_deterministically(
    sandbox: Sandbox, seeded: str, client: Client, worker: Worker, task_queue: str
):
    history = await drill_history(client, task_queue)
    replayer = Replayer(
        workflows=[RestoreDrillWorkflow], data_converter=client.data_converter
    )
    await replayer.replay_workflow(history)


async def test_no_secret_value_enters_the_drill_history(
    sandbox: Sandbox, seeded: str, client: Client, worker: Worker, task_queue: str
):
    history = await drill_history(client, task_queue)
    text = history_text(history.to_json())
    secrets = [
        path.read_text().strip()
        for path in sandbox.layout.secrets.iterdir()
        if path.name.endswith(("password", "key-id", "access-key"))
    ]
    assert len(secrets) >= 5
    leaked = [s[:4] + "..." for s in secrets if s in text]
    assert leaked == []


def history_text(history_json: str) -> str:
    """The history as text with every payload's base64 data decoded."""
    decoded: list[str] = [history_json]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "metadata" in node and isinstance(node.get("data"), str):
                decoded.append(base64.b64decode(node["data"]).decode(errors="replace"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(history_json))
    return "\n".join(decoded)


async def test_unknown_environment_fails_at_once_without_retries(
    sandbox: Sandbox, client: Client, worker: Worker, task_queue: str
):
    workflow_id = f"test-drill-{uuid.uuid4().hex[:8]}"
    report = await run_drill(
        client, task_queue, workflow_id=workflow_id, environment="no-such-env"
    )
    assert report.verdict == "fail"
    assert report.failure.startswith("BadInput: unknown environment 'no-such-env'")
    assert [s.outcome for s in report.steps][0] == "failed"
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert attempts and max(attempts) == 1
