"""A runbook started before a Temporal server restart completes after it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from odoo_dr.models import DrillInput, RunbookStatus
from sandbox.control import UpOptions, up
from sandbox.processes import stop_process
from tests.conftest import Sandbox
from workflows.drill import RestoreDrillWorkflow


async def wait_for_phase(client: Client, workflow_id: str, waiting: str) -> None:
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(600):
        status = await handle.query(
            RestoreDrillWorkflow.status, result_type=RunbookStatus
        )
        if status.waiting_for == waiting:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{workflow_id} never waited for {waiting!r}")


async def test_drill_survives_a_temporal_server_restart(
    sandbox: Sandbox, seeded: str, client: Client, worker: Worker, task_queue: str
):
    workflow_id = f"test-restart-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        RestoreDrillWorkflow.run,
        DrillInput(environment="sandbox", keep_copy_for=timedelta(seconds=8)),
        id=workflow_id,
        task_queue=task_queue,
    )
    await wait_for_phase(client, workflow_id, "inspection window to end")

    record = sandbox.layout.read_state().processes["temporal"]
    assert stop_process(record.pid, record.started, "temporal")
    await asyncio.sleep(1)
    state = await asyncio.to_thread(
        up, UpOptions(home=sandbox.layout.home), lambda _m: None
    )
    assert state.processes["temporal"].pid != record.pid

    report = await asyncio.wait_for(handle.result(), timeout=180)
    assert report.verdict == "pass", report.failure
    assert report.torn_down
