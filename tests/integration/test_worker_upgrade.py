"""Upgrading versioned workers while a drill holds its copy.

Two ``odoo-dr worker`` processes serve one task queue as two builds of one
Worker Deployment, on the sandbox's real Temporal server. The drill started
under the old build stays pinned to it after the new build becomes current:
the old worker runs every one of its steps to the end, its teardown too,
while work started after the upgrade goes to the new build.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.common import VersioningBehavior

from odoo_dr.models import DrillInput, DrillReport
from odoo_dr.validation import ValidationInput, ValidationReport
from sandbox.temporal import temporal_cli
from tests.conftest import Sandbox
from tests.integration.workers import start_worker
from workflows.drill import RestoreDrillWorkflow
from workflows.validation import ValidateOdooWorkflow

pytestmark = pytest.mark.integration


async def make_current(sandbox: Sandbox, deployment: str, build: str) -> None:
    """Make ``build`` the deployment's current version, once its worker polls."""
    command = [
        str(temporal_cli()),
        "worker",
        "deployment",
        "set-current-version",
        "--address",
        sandbox.address,
        "--deployment-name",
        deployment,
        "--build-id",
        build,
        "--yes",
    ]
    for _ in range(100):
        done = await asyncio.to_thread(
            subprocess.run, command, capture_output=True, text=True
        )
        if done.returncode == 0:
            return
        await asyncio.sleep(0.3)  # the version exists once its worker polled
    raise AssertionError(f"could not make {build} current: {done.stderr}")


async def activity_workers(handle: WorkflowHandle) -> set[str]:
    """The identities of the workers that started the run's activities."""
    history = await handle.fetch_history()
    return {
        event.activity_task_started_event_attributes.identity
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    }


async def pinned_build(handle: WorkflowHandle) -> tuple[int, str]:
    info = (await handle.describe()).raw_description.workflow_execution_info
    return info.versioning_info.behavior, info.versioning_info.version


def stop(worker: subprocess.Popen[bytes] | None) -> None:
    if worker is not None and worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)


async def test_a_drill_in_flight_stays_with_the_build_that_started_it(
    sandbox: Sandbox, seeded: str, client: Client, tmp_path: Path
) -> None:
    queue = f"upgrade-{uuid.uuid4().hex[:6]}"
    deployment = f"odoo-dr-{uuid.uuid4().hex[:6]}"
    log = tmp_path / "workers.log"
    old = start_worker(
        sandbox, queue, log, "--deployment", deployment, "--build-id", "old"
    )
    new = None
    try:
        await make_current(sandbox, deployment, "old")
        drill = await client.start_workflow(
            RestoreDrillWorkflow.run,
            DrillInput(
                environment="sandbox",
                requested_by="pytest",
                keep_copy_for=timedelta(hours=1),
            ),
            id=f"test-upgrade-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
        for _ in range(600):
            if (await drill.query(RestoreDrillWorkflow.status)).waiting_for:
                break
            await asyncio.sleep(0.2)

        # The upgrade: the new build polls the same queue and becomes current.
        new = start_worker(
            sandbox, queue, log, "--deployment", deployment, "--build-id", "new"
        )
        await make_current(sandbox, deployment, "new")
        later = await client.start_workflow(
            ValidateOdooWorkflow.run,
            ValidationInput(environment="sandbox", probes=False),
            id=f"test-upgrade-validate-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
        validation: ValidationReport = await asyncio.wait_for(later.result(), 120)

        # The drill's copy goes when it is cancelled, by the build it began on.
        await drill.cancel()
        report: DrillReport = await asyncio.wait_for(drill.result(), 120)
    finally:
        stop(new)
        stop(old)

    assert report.verdict == "aborted" and report.torn_down
    assert validation.verdict != "fail"
    assert await pinned_build(drill) == (
        VersioningBehavior.PINNED.value,
        f"{deployment}.old",
    )
    assert await pinned_build(later) == (
        VersioningBehavior.PINNED.value,
        f"{deployment}.new",
    )
    assert new is not None
    old_worker, new_worker = f"{old.pid}@", f"{new.pid}@"
    drill_workers = await activity_workers(drill)
    assert drill_workers and all(w.startswith(old_worker) for w in drill_workers)
    later_workers = await activity_workers(later)
    assert later_workers and all(w.startswith(new_worker) for w in later_workers)
    assert not (sandbox.env.drill.work_dir / f"drill-{drill.result_run_id}").exists()
