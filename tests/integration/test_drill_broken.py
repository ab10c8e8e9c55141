"""Drills on backups broken on purpose: they fail, say why, tear down, report.

Each test breaks the sandbox's real archive (a WAL segment deleted, a base
backup's data overwritten) and puts it back afterwards, because later tests
restore from the same archive.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from odoo_dr.models import DrillInput, DrillReport
from sandbox import objectstore
from sandbox.control import archive_and_back_up
from sandbox.layout import BUCKET
from tests.archive import archive_after_a_write, backup_key, newest_backup, wal_keys
from tests.conftest import Sandbox
from workflows.drill import RestoreDrillWorkflow

pytestmark = pytest.mark.integration


@contextmanager
def replaced(s3: Any, key: str, body: bytes | None) -> Iterator[None]:
    """Delete (``body`` None) or overwrite an archive object, then put it back."""
    kept = s3.get_object(Bucket=BUCKET, Key=key)
    original = kept["Body"].read()
    if body is None:
        s3.delete_object(Bucket=BUCKET, Key=key)
    else:
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    try:
        yield
    finally:
        s3.put_object(Bucket=BUCKET, Key=key, Body=original, Metadata=kept["Metadata"])


async def drill(client: Client, task_queue: str) -> DrillReport:
    return await client.execute_workflow(
        RestoreDrillWorkflow.run,
        DrillInput(environment="sandbox", requested_by="pytest"),
        id=f"test-drill-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )


def assert_ended_cleanly(sandbox: Sandbox, report: DrillReport) -> None:
    assert report.torn_down
    assert not (sandbox.env.drill.work_dir / f"drill-{report.run_id}").exists()
    assert report.evidence is not None, report.evidence_error


async def test_drill_on_an_archive_missing_a_segment_fails_naming_it(
    sandbox: Sandbox, seeded: str, client: Client, worker: Worker, task_queue: str
):
    for _ in range(3):
        archive_after_a_write(sandbox)
    s3 = objectstore.s3_client(sandbox.layout, sandbox.state.ports.s3)
    keys = wal_keys(s3)
    first = newest_backup(sandbox)["begin_wal"]
    between = sorted(name for name in keys if first < name < max(keys))
    assert between, f"no segment archived after {first} but before the newest"
    lost = between[len(between) // 2]

    with replaced(s3, keys[lost], None):
        report = await drill(client, task_queue)

    assert report.verdict == "fail"
    assert "the backups cannot restore production as it is" in (report.failure or "")
    assert f"are missing: {lost}" in (report.failure or "")
    assert report.recovered is not None  # what could be recovered, was
    assert_ended_cleanly(sandbox, report)


async def test_drill_on_a_corrupted_base_backup_fails_with_the_restore_error(
    sandbox: Sandbox, seeded: str, client: Client, worker: Worker, task_queue: str
):
    archive_and_back_up(sandbox.layout.home)  # a backup of its own to break
    s3 = objectstore.s3_client(sandbox.layout, sandbox.state.ports.s3)
    backup = newest_backup(sandbox)
    data = backup_key(backup["backup_id"], "data.tar")

    with replaced(s3, data, b"not a tar archive" * 1000):
        report = await drill(client, task_queue)

    assert report.verdict == "fail"
    assert report.backup is not None
    assert report.backup.backup_id == backup["backup_id"]
    assert "barman-cloud-restore" in (report.failure or "")
    assert report.recovered is None
    assert_ended_cleanly(sandbox, report)
