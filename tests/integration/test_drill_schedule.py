"""Nightly drills on Temporal Schedules, driven from the CLI, and their history."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from odoo_dr.models import DrillReport
from tests.conftest import Sandbox

pytestmark = pytest.mark.integration


def odoo_dr(sandbox: Sandbox, queue: str, *args: str) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "odoo-dr"), *args]
    command += ["--inventory", str(sandbox.layout.inventory)]
    if args[:2] == ("drill", "schedule"):
        command += ["--task-queue", queue]
    env = dict(os.environ, ODOO_DR_TEMPORAL_ADDRESS=sandbox.address)
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def schedule(sandbox: Sandbox, queue: str, *args: str) -> subprocess.CompletedProcess:
    return odoo_dr(sandbox, queue, "drill", "schedule", *args)


async def scheduled_drill(client: Client) -> str:
    """The id of the drill the schedule started."""
    query = "TemporalScheduledById = 'restore-drill-sandbox'"
    for _ in range(300):
        async for execution in client.list_workflows(query):
            return execution.id
        await asyncio.sleep(0.2)
    raise AssertionError("the schedule started no drill")


async def test_triggered_schedule_runs_a_drill_that_passes_and_shows_in_history(
    sandbox: Sandbox, seeded: str, client: Client, worker: Worker, task_queue: str
):
    created = schedule(
        sandbox, task_queue, "create", "--env", "sandbox", "--at", "02:30"
    )
    try:
        await _walk_through(sandbox, client, task_queue, created)
    finally:
        schedule(sandbox, task_queue, "delete", "--env", "sandbox")
    listed = schedule(sandbox, task_queue, "list", "--env", "sandbox")
    assert "no drill schedule for sandbox" in listed.stdout


async def _walk_through(
    sandbox: Sandbox,
    client: Client,
    task_queue: str,
    created: subprocess.CompletedProcess,
) -> None:
    assert created.returncode == 0, created.stderr
    assert "at 02:30 UTC on sun,mon,tue,wed,thu,fri,sat" in created.stdout
    listed = schedule(sandbox, task_queue, "list", "--env", "sandbox")
    assert "restore-drill-sandbox  active  next " in listed.stdout

    triggered = schedule(sandbox, task_queue, "trigger", "--env", "sandbox")
    assert triggered.returncode == 0, triggered.stderr
    drill_id = await scheduled_drill(client)
    handle = client.get_workflow_handle(drill_id, result_type=DrillReport)
    report = await asyncio.wait_for(handle.result(), timeout=300)
    assert report.verdict == "pass", report.failure
    assert report.requested_by == "schedule restore-drill-sandbox"
    # Its evidence is in the bucket, and is the one the run recorded.
    assert report.evidence is not None, report.evidence_error
    fetched = odoo_dr(sandbox, task_queue, "report", drill_id, "--format", "markdown")
    assert fetched.returncode == 0, fetched.stderr
    assert f"sha256 {report.evidence.sha256}" in fetched.stderr
    assert "verified" in fetched.stderr and "restore-drill" in fetched.stdout

    history = odoo_dr(sandbox, task_queue, "drill", "history", "--env", "sandbox")
    assert history.returncode == 0, history.stderr
    row = next(line for line in history.stdout.splitlines() if "pass" in line)
    assert report.backup is not None and report.backup.backup_id in row

    paused = schedule(
        sandbox, task_queue, "pause", "--env", "sandbox", "--note", "month-end freeze"
    )
    assert paused.returncode == 0, paused.stderr
    listed = schedule(sandbox, task_queue, "list", "--env", "sandbox")
    assert "PAUSED (month-end freeze)" in listed.stdout
    assert schedule(sandbox, task_queue, "resume", "--env", "sandbox").returncode == 0
    listed = schedule(sandbox, task_queue, "list", "--env", "sandbox")
    assert "restore-drill-sandbox  active" in listed.stdout

    deleted = schedule(sandbox, task_queue, "delete", "--env", "sandbox")
    assert deleted.returncode == 0, deleted.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--env", "sandbox", "--at", "25:00"), "--at '25:00'"),
        (("create", "--env", "sandbox", "--days", "moonday"), "--days 'moonday'"),
        (("create", "--env", "nowhere"), "nowhere"),
        (("pause", "--env", "sandbox", "--note", "x"), "no drill schedule"),
    ],
)
def test_bad_schedule_requests_are_refused_and_change_nothing(
    sandbox: Sandbox, task_queue: str, args: tuple[str, ...], message: str
):
    refused = schedule(sandbox, task_queue, *args)
    assert refused.returncode == 2
    assert message in refused.stderr and refused.stderr.startswith("odoo-dr: ")
    listed = schedule(sandbox, task_queue, "list", "--env", "sandbox")
    assert "no drill schedule for sandbox" in listed.stdout
