"""The drill's orchestration on the time-skipping server, activities replaced.

These check the workflow's own logic (teardown on every path, verdicts,
timers); the real activities are exercised in tests/integration.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.odoo import CatalogueOutcome, ComparisonOutcome
from odoo_dr.errors import BAD_INPUT
from odoo_dr.models import (
    BackupChoice,
    DrillInput,
    PrimaryPosition,
    RecoveredPoint,
    RestoredCopy,
    TableCount,
)
from odoo_dr.validation import (
    CheckResult,
    Fingerprint,
    FingerprintComparison,
    ValidationInput,
    ValidationTarget,
)
from workflows.drill import ODOO_TABLES, RestoreDrillWorkflow
from workflows.validation import ValidateOdooWorkflow

WORKFLOWS = [RestoreDrillWorkflow, ValidateOdooWorkflow]

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


class FakeDrillActivities:
    """Activities with the real names, recording what the workflow asked."""

    def __init__(
        self,
        *,
        restore_fails: bool = False,
        empty_table: str = "",
        failing_check: str = "",
    ) -> None:
        self.restore_fails = restore_fails
        self.empty_table = empty_table
        self.failing_check = failing_check
        self.torn_down: list[str] = []
        self.validated: list[ValidationInput] = []

    def all(self) -> list:
        return [
            self.capture_primary_position,
            self.select_backup,
            self.restore_backup,
            self.start_restored_copy,
            self.count_tables,
            self.teardown_copy,
            self.capture_fingerprint,
            self.run_validation_checks,
            self.compare_fingerprint,
            self.probe_odoo,
        ]

    @activity.defn(name="capture_fingerprint")
    async def capture_fingerprint(
        self, environment: str, target: ValidationTarget
    ) -> Fingerprint:
        return Fingerprint(
            source=target.label,
            wal_lsn="0/5000000",
            taken_at=T0,
            newest_commit=T0,
            database_uuid="6f1e0c52-0000-4000-8000-000000000001",
            figures={},
            tables={},
        )

    @activity.defn(name="run_validation_checks")
    async def run_validation_checks(self, request: ValidationInput) -> CatalogueOutcome:
        self.validated.append(request)
        failing = self.failing_check
        return CatalogueOutcome(
            odoo_version="17.0",
            results=[
                CheckResult(
                    name=name,
                    area=name.split(".")[0],
                    verdict="fail" if name == failing else "pass",
                    summary="found by the fake",
                )
                for name in ("identity.database_uuid", "accounting.balanced_moves")
            ],
        )

    @activity.defn(name="compare_fingerprint")
    async def compare_fingerprint(
        self,
        environment: str,
        taken: Fingerprint,
        target: ValidationTarget,
        witness: ValidationTarget | None,
        target_point: datetime | None,
    ) -> ComparisonOutcome:
        return ComparisonOutcome(
            comparison=FingerprintComparison(
                fingerprint_source=taken.source,
                fingerprint_commit=taken.newest_commit,
                target_commit=target_point,
                direction="target-older",
                transactions_between=7,
                rows_between=9,
            ),
            result=CheckResult(
                name="fingerprint.compare",
                area="fingerprint",
                verdict="pass",
                summary="explained",
            ),
        )

    @activity.defn(name="probe_odoo")
    async def probe_odoo(self, request: ValidationInput) -> list[CheckResult]:
        raise AssertionError("a drill copy has no Odoo to probe")

    @activity.defn(name="capture_primary_position")
    async def capture_primary_position(self, environment: str) -> PrimaryPosition:
        return PrimaryPosition(
            node="pg-a", wal_lsn="0/5000000", newest_commit=T0, observed_at=T0
        )

    @activity.defn(name="select_backup")
    async def select_backup(
        self, environment: str, backup_id: str | None
    ) -> BackupChoice:
        return BackupChoice(
            backup_id="20261201T010000",
            begin_time=T0 - timedelta(hours=1),
            end_time=T0 - timedelta(minutes=59),
            begin_wal=None,
            end_wal=None,
        )

    @activity.defn(name="restore_backup")
    async def restore_backup(
        self,
        environment: str,
        drill_id: str,
        backup_id: str,
        recovery_target_time: datetime | None = None,
    ) -> RestoredCopy:
        if self.restore_fails:
            raise ApplicationError("disk full", type=BAD_INPUT, non_retryable=True)
        return RestoredCopy(
            drill_id=drill_id,
            data_dir="/x",
            host="127.0.0.1",
            port=55400,
            backup_id=backup_id,
            restored_bytes=1,
        )

    @activity.defn(name="start_restored_copy")
    async def start_restored_copy(
        self, environment: str, copy: RestoredCopy
    ) -> RecoveredPoint:
        return RecoveredPoint(
            replay_lsn="0/4F00000",
            newest_commit=T0 - timedelta(seconds=42),
            timeline=2,
            recovery_seconds=3.0,
        )

    @activity.defn(name="count_tables")
    async def count_tables(
        self, environment: str, copy: RestoredCopy, tables: list[str]
    ) -> list[TableCount]:
        return [
            TableCount(
                table=t,
                rows=0 if t == self.empty_table else 10,
                ok=t != self.empty_table,
            )
            for t in tables
        ]

    @activity.defn(name="teardown_copy")
    async def teardown_copy(self, environment: str, drill_id: str) -> bool:
        self.torn_down.append(drill_id)
        return True


async def run(env: WorkflowEnvironment, fakes: FakeDrillActivities, **options):
    queue = f"wf-{uuid.uuid4().hex[:6]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=WORKFLOWS,
        activities=fakes.all(),
    ):
        return await env.client.execute_workflow(
            RestoreDrillWorkflow.run,
            DrillInput(environment="sandbox", **options),
            id=f"wf-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )


async def test_passing_drill_reports_rpo_from_commit_times(env):
    fakes = FakeDrillActivities()
    report = await run(env, fakes)
    assert report.verdict == "pass"
    assert report.rpo_seconds == 42.0
    assert [t.table for t in report.tables] == ODOO_TABLES
    assert len(fakes.torn_down) == 1


async def test_drill_validates_the_copy_against_production(env):
    fakes = FakeDrillActivities()
    report = await run(env, fakes)
    (request,) = fakes.validated
    assert request.target.port == 55400
    assert request.expected.database_uuid == "6f1e0c52-0000-4000-8000-000000000001"
    assert request.recovered_commit == T0 - timedelta(seconds=42)
    assert request.fingerprint is not None and request.witness is not None
    assert report.validation is not None and report.validation.verdict == "pass"
    assert report.rpo_transactions == 7


async def test_critical_validation_failure_fails_the_drill_naming_the_check(env):
    fakes = FakeDrillActivities(failing_check="accounting.balanced_moves")
    report = await run(env, fakes)
    assert report.verdict == "fail"
    assert "accounting.balanced_moves" in report.failure
    assert report.failure.startswith("ValidationFailed")
    assert report.rto_seconds is None
    assert len(fakes.torn_down) == 1


async def test_failed_restore_still_tears_down_and_fails(env):
    fakes = FakeDrillActivities(restore_fails=True)
    report = await run(env, fakes)
    assert report.verdict == "fail"
    assert "disk full" in report.failure
    assert report.rto_seconds is None
    assert len(fakes.torn_down) == 1
    failed = [s.name for s in report.steps if s.outcome == "failed"]
    assert failed == ["restore base backup"]


async def test_empty_table_fails_the_drill_naming_it(env):
    report = await run(env, FakeDrillActivities(empty_table="hr_payslip"))
    assert report.verdict == "fail"
    assert "hr_payslip" in report.failure


async def test_inspection_window_keeps_the_copy_then_tears_it_down(env):
    fakes = FakeDrillActivities()
    report = await run(env, fakes, keep_copy_for=timedelta(hours=2))
    assert report.verdict == "pass"
    teardown = next(s for s in report.steps if s.name == "tear down copy")
    validated = report.validated_at
    assert validated is not None
    assert teardown.started_at - validated >= timedelta(hours=2)


async def test_workflow_and_activities_are_traced(env):
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )
    from temporalio.client import Client

    from worker.telemetry import tracer_provider, tracing_interceptor

    exporter = InMemorySpanExporter()
    provider = tracer_provider(exporter)
    config = env.client.config()
    config["interceptors"] = [tracing_interceptor(provider)]
    traced = Client(**config)
    queue = f"wf-{uuid.uuid4().hex[:6]}"
    async with Worker(
        traced,
        task_queue=queue,
        workflows=WORKFLOWS,
        activities=FakeDrillActivities().all(),
    ):
        await traced.execute_workflow(
            RestoreDrillWorkflow.run,
            DrillInput(environment="sandbox"),
            id=f"wf-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
    provider.force_flush()
    names = {span.name for span in exporter.get_finished_spans()}
    assert "RunWorkflow:RestoreDrill" in names
    assert "RunActivity:restore_backup" in names


async def test_cancelled_drill_still_tears_the_copy_down(env):
    from temporalio.client import WorkflowFailureError

    fakes = FakeDrillActivities()
    queue = f"wf-{uuid.uuid4().hex[:6]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=WORKFLOWS,
        activities=fakes.all(),
    ):
        handle = await env.client.start_workflow(
            RestoreDrillWorkflow.run,
            DrillInput(environment="sandbox", keep_copy_for=timedelta(hours=8)),
            id=f"wf-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
        for _ in range(100):
            status = await handle.query(RestoreDrillWorkflow.status)
            if status.waiting_for:
                break
            await asyncio.sleep(0.05)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    assert fakes.torn_down == [f"drill-{handle.result_run_id}"]
