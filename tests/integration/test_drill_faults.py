"""A drill whose worker is killed: during the restore, then during validation.

The worker runs as its own process (``odoo-dr worker``) so that it can be
killed with SIGKILL, as a crashing host would; another one then takes over
the same task queue. The drill must end cleanly, its copy torn down, and
nothing of it left running: no PostgreSQL of the copy, no barman-cloud.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHandle

from odoo_dr.models import DrillInput, DrillReport
from tests.conftest import Sandbox
from tests.integration.workers import start_worker
from workflows.drill import RestoreDrillWorkflow

pytestmark = pytest.mark.integration


async def until_running(handle: WorkflowHandle, step: str, timeout: float) -> None:
    """Wait until ``step`` runs (other steps may run beside it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        status = await handle.query(RestoreDrillWorkflow.status)
        if any(s.name == step and s.outcome == "running" for s in status.steps):
            return
        if status.phase == "done" or any(
            s.name == step and s.outcome != "running" for s in status.steps
        ):
            break
        await asyncio.sleep(0.05)
    raise AssertionError(f"step {step!r} was never seen running")


async def until_child_step(
    client: Client, workflow_id: str, prefixes: tuple[str, ...], timeout: float
) -> None:
    handle = client.get_workflow_handle(workflow_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            status = await handle.query("status")
        except Exception:  # the child is not started yet
            status = {}
        if (status.get("step") or "").startswith(prefixes):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} never reached a step {prefixes!r}")


def kill(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention ``text``."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        line = raw.replace(b"\0", b" ").decode(errors="replace")
        if text in line and "pytest" not in line:
            found.append(line)
    return found


async def test_drill_survives_its_worker_killed_in_restore_and_validation(
    sandbox: Sandbox, seeded: str, client: Client, tmp_path: Path
):
    queue = f"drill-faults-{uuid.uuid4().hex[:6]}"
    log = tmp_path / "workers.log"
    worker = start_worker(sandbox, queue, log)
    try:
        handle = await client.start_workflow(
            RestoreDrillWorkflow.run,
            DrillInput(environment="sandbox", requested_by="pytest"),
            id=f"test-drill-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
        drill_id = f"drill-{handle.result_run_id}"

        await until_running(handle, "restore base backup", timeout=120)
        await asyncio.sleep(0.2)  # barman-cloud-restore is running
        kill(worker)
        # What the killed worker had started ends with it.
        for _ in range(100):
            if not processes_mentioning(f"{drill_id}/pgdata"):
                break
            await asyncio.sleep(0.1)
        assert processes_mentioning(f"{drill_id}/pgdata") == []
        worker = start_worker(sandbox, queue, log)

        # The validation child's catalogue: on this small dataset it takes
        # well under a second, so the kill lands in it or in the proof
        # against production that follows.
        await until_child_step(
            client, f"{handle.id}-validate", ("Check the books",), timeout=240
        )
        kill(worker)
        worker = start_worker(sandbox, queue, log)

        report: DrillReport = await asyncio.wait_for(handle.result(), timeout=300)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)

    assert report.verdict == "pass", report.failure
    assert report.torn_down
    restore = [s for s in report.steps if s.name == "restore base backup"]
    assert restore and restore[-1].outcome == "done"
    assert report.validation is not None and not report.validation.blocking
    assert not (sandbox.env.drill.work_dir / drill_id).exists()
    assert processes_mentioning(drill_id) == []
